"""The ``img2img`` command's arguments: global options, and each subcommand's own.

Global options are accepted before or after the subcommand
(``img2img --json info`` and ``img2img info --json`` are the same): each
subparser repeats them with a suppressed default, so a value given on either
side wins and an absent one leaves the other side's alone.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from img2img._version import __version__
from img2img.cli.embedding import EMBEDDER_OPTIONS
from img2img.options import number_type, positive_int

if TYPE_CHECKING:
    from img2img.cli.command import Command

__all__ = ["add_global_options", "build_parser", "cosine", "json_filter", "positive_int"]

_EPILOG = """\
exit codes: 0 done, 1 error, 2 usage, 3 some items failed, 10 watch check found
something new or gone, 130 interrupted.
The store remembers its model: --embedder is needed only when creating a store.
Guide: https://github.com/img2img/img2img/tree/main/docs/cli.md"""


#: An argparse type: a cosine similarity, from -1 to 1.
cosine = number_type(float, least=-1, most=1, refusal="a score is from -1 to 1, got {value}")


def json_filter(text: str) -> dict[str, Any]:
    """An argparse type: a metadata filter written as a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('a filter is a JSON object, e.g. {"domain": "x.com"}')
    return value


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options (before or after the subcommand)")
    group.add_argument(
        "--store",
        metavar="PATH|NAME://WHERE",
        default=default(None),
        help="a LocalStore file (default: the per-user store), or NAME://WHERE for another "
        "installed store ('img2img plugins' lists them), e.g. pinecone://INDEX/NAMESPACE "
        "(key from PINECONE_API_KEY)",
    )
    EMBEDDER_OPTIONS.add_to(
        group if suppress else parser,  # type: ignore[arg-type]  # a repeat adds no groups
        help="the model of a new store (default: clip); later commands use the store's own",
        suppress=suppress,
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print results as JSON"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no notes and no progress bars",
    )


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """The global options again on a subcommand's own subcommand (``watch check --json``)."""
    _global_options(parser, suppress=True)


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The parser for ``img2img [options] COMMAND [options]`` with ``commands``."""
    parser = argparse.ArgumentParser(
        prog="img2img",
        description="Reverse image search: index images with where they are posted, "
        "then find an image, or one like it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"img2img {__version__}")
    _global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        sub = subparsers.add_parser(
            command.name,
            aliases=list(command.aliases),
            help=command.help,
            description=command.description or command.help,
        )
        sub.set_defaults(command_name=command.name)
        command.configure(sub)
        _global_options(sub, suppress=True)
    return parser
