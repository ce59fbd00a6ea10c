"""The ``img2img`` command's arguments: every subcommand and flag, nothing that runs them."""

from __future__ import annotations

import argparse
import json

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``img2img [global options] COMMAND [options]``."""
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

    postings = commands.add_parser(
        "postings", help="where the same picture is posted: verified copies of an image"
    )
    postings.add_argument("image")
    postings.add_argument("-k", type=int, default=50, help="candidates to verify")
    postings.add_argument(
        "--sort", choices=["match", "newest", "oldest", "size", "score"], default="match"
    )
    duplicates = commands.add_parser(
        "duplicates", help="every picture stored more than once, grouped"
    )
    duplicates.add_argument("-k", type=int, default=10, help="neighbours compared per image")

    commands.add_parser("info", help="what the store holds")
    return parser
