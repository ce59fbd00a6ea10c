"""The ``img2img`` command: index and search from the shell.

    img2img add ~/Pictures/                    # local files and folders, or URLs
    img2img index "eiffel tower postcard" -n 300   # Google Images through SerpAPI
    img2img search photo.jpg -k 10 --json
    img2img search-text "a red bicycle"        # needs CLIP
    img2img info

Vectors go to a LocalStore file (``--store``, default: ``img2img.stores.local.default_store_path()``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING

from img2img.errors import Img2ImgError

if TYPE_CHECKING:
    from img2img.client import ImageSearchClient
    from img2img.models import IndexReport, Match
    from img2img.protocols import Embedder

__all__ = ["main"]


def _embedder(args: argparse.Namespace) -> Embedder:
    if args.embedder == "efficientnet":
        from img2img.embedders.efficientnet import EfficientNetEmbedder

        return EfficientNetEmbedder()
    from img2img.embedders.clip import ClipEmbedder

    return ClipEmbedder(args.clip_model, pretrained=args.clip_checkpoint or args.clip_pretrained)


def _client(args: argparse.Namespace, stack: ExitStack) -> ImageSearchClient:
    from img2img.client import ImageSearchClient
    from img2img.stores.local import LocalStore, default_store_path

    store = stack.enter_context(closing(LocalStore(args.store or default_store_path())))
    source = None
    if args.command == "index":
        from img2img.sources.serpapi import SerpApiSource

        source = SerpApiSource(sites=args.site or (), country=args.country, language=args.language)
    return stack.enter_context(
        ImageSearchClient(source=source, embedder=_embedder(args), store=store)
    )


def _print_report(report: IndexReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "discovered": report.discovered, "indexed": report.indexed, "skipped": report.skipped,
            "elapsed_seconds": round(report.elapsed_seconds, 3),
            "failures": [{"url": f.url, "stage": f.stage, "reason": f.reason} for f in report.failures],
        }, indent=2))  # fmt: skip
        return
    print(report)
    for failure in report.failures:
        print(f"  {failure.stage:8} {failure.url}: {failure.reason}")


def _print_matches(matches: list[Match], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [{"id": m.id, "score": round(m.score, 6), **m.metadata} for m in matches], indent=2
            )
        )
        return
    if not matches:
        print("no matches")
    for rank, m in enumerate(matches, start=1):
        where = m.page_url or m.image_url
        print(f"{rank:3}. {m.score:.3f}  {m.title or m.image_url}\n     {where}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="img2img", description="Reverse image search.")
    parser.add_argument("--store", help="LocalStore file (default: the per-user store)")
    parser.add_argument("--embedder", choices=["clip", "efficientnet"], default="clip")
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--clip-pretrained", default="laion2b_s34b_b79k")
    parser.add_argument("--clip-checkpoint", help="a local open_clip checkpoint file")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="index local files, folders or image URLs")
    add.add_argument("items", nargs="+")
    add.add_argument("--keyphrase")

    index = commands.add_parser(
        "index", help="index Google Images results for a keyphrase (SerpAPI)"
    )
    index.add_argument("keyphrase")
    index.add_argument("-n", "--limit", type=int, default=100)
    index.add_argument("--site", action="append", help="restrict to a site; repeatable")
    index.add_argument("--country")
    index.add_argument("--language")

    search = commands.add_parser("search", help="find images like an image (path or URL)")
    search.add_argument("image")
    search_text = commands.add_parser("search-text", help="find images that fit a description")
    search_text.add_argument("text")
    for sub in (search, search_text):
        sub.add_argument("-k", type=int, default=5)
        sub.add_argument(
            "--filter",
            type=json.loads,
            help='metadata filter as JSON, e.g. \'{"domain": "x.com"}\'',
        )
        sub.add_argument("--min-score", type=float)

    commands.add_parser("info", help="what the store holds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with ExitStack() as stack:
            client = _client(args, stack)
            if args.command == "add":
                _print_report(client.add(args.items, keyphrase=args.keyphrase), args.json)
            elif args.command == "index":
                _print_report(client.index(args.keyphrase, limit=args.limit), args.json)
            elif args.command == "search":
                matches = client.search(
                    args.image, k=args.k, filter=args.filter, min_score=args.min_score
                )
                _print_matches(matches, args.json)
            elif args.command == "search-text":
                matches = client.search_text(
                    args.text, k=args.k, filter=args.filter, min_score=args.min_score
                )
                _print_matches(matches, args.json)
            else:
                space = client.store.embedding_space()
                print(f"{client.store.count()} images; embedding space: {space or 'none yet'}")
    except Img2ImgError as exc:
        print(f"img2img: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
