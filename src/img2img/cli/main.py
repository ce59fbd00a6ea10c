"""The ``img2img`` command: index and search from the shell.

    img2img add ~/Pictures/                    # local files and folders, or URLs
    img2img index "eiffel tower postcard" -n 300   # Google Images through SerpAPI
    img2img search photo.jpg -k 10 --json
    img2img search-text "a red bicycle"        # needs CLIP
    img2img postings photo.jpg --json          # where the same picture is posted
    img2img duplicates                         # pictures stored more than once
    img2img info

Vectors go to a LocalStore file (``--store``, default:
``img2img.stores.local.store.default_store_path()``). Arguments are defined in
:mod:`img2img.cli.parser`, printing in :mod:`img2img.cli.output`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING

from img2img.cli.output import print_matches, print_report
from img2img.cli.parser import build_parser
from img2img.errors import Img2ImgError

if TYPE_CHECKING:
    from img2img.client import ImageSearchClient
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
    from img2img.stores.local.store import LocalStore, default_store_path

    store = stack.enter_context(closing(LocalStore(args.store or default_store_path())))
    source = None
    if args.command == "index":
        from img2img.sources.serpapi.google_images import SerpApiSource

        source = SerpApiSource(sites=args.site or (), country=args.country, language=args.language)
    return stack.enter_context(
        ImageSearchClient(source=source, embedder=_embedder(args), store=store)
    )


def _run(args: argparse.Namespace, client: ImageSearchClient) -> None:
    if args.command == "add":
        print_report(client.add(args.items, keyphrase=args.keyphrase), args.json)
    elif args.command == "index":
        print_report(client.index(args.keyphrase, limit=args.limit), args.json)
    elif args.command == "search":
        matches = client.search(args.image, k=args.k, filter=args.filter, min_score=args.min_score)
        print_matches(matches, args.json)
    elif args.command == "postings":
        from img2img.cli.postings_output import print_postings

        print_postings(client.find_postings(args.image, k=args.k, sort_by=args.sort), args.json)
    elif args.command == "duplicates":
        from img2img.cli.postings_output import print_duplicates

        print_duplicates(client.duplicates(k=args.k), args.json)
    elif args.command == "search-text":
        matches = client.search_text(
            args.text, k=args.k, filter=args.filter, min_score=args.min_score
        )
        print_matches(matches, args.json)
    else:
        space = client.store.embedding_space()
        print(f"{client.store.count()} images; embedding space: {space or 'none yet'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        with ExitStack() as stack:
            _run(args, _client(args, stack))
    except Img2ImgError as exc:
        print(f"img2img: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
