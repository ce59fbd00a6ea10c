"""The ``img2img`` command: index and search from the shell.

    img2img --embedder efficientnet add ~/Pictures/   # files, folders or URLs; remembers the model
    img2img index "eiffel tower postcard" -n 300      # Google Images through SerpAPI
    img2img index --source discord --channel 1225938457282375793   # or patreon, reddit, bluesky
    img2img search photo.jpg -k 10 --json
    img2img sync ~/Pictures/                          # new, changed, renamed and deleted files
    img2img info

Arguments are defined in :mod:`img2img.cli.parser` and each subcommand's
module (:mod:`img2img.cli.registry` lists them), printing in
:mod:`img2img.cli.output` and :mod:`img2img.cli.tables`, and the parts a
command works with in :mod:`img2img.cli.session`. Exit codes are in
:mod:`img2img.cli.exits`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from img2img.cli.exits import ExitCode, UsageError
from img2img.cli.output import Output
from img2img.cli.parser import build_parser
from img2img.cli.registry import COMMANDS
from img2img.cli.session import Session
from img2img.errors import Img2ImgError
from img2img.options import OptionError

__all__ = ["main"]


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version and usage errors end here
        return exit.code if isinstance(exit.code, int) else ExitCode.USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser(COMMANDS)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    command = next(c for c in COMMANDS if c.name == args.command_name)
    out = Output(as_json=args.json, quiet=args.quiet)
    try:
        with Session(args, out, command.store, uses_model=command.uses_model) as session:
            try:
                return command.run(session)
            except KeyboardInterrupt:
                out.interrupted(session.stored_since_start())
                return ExitCode.INTERRUPTED
    except (UsageError, OptionError) as exc:
        out.error(str(exc))
        return ExitCode.USAGE
    except Img2ImgError as exc:
        out.error(str(exc))
        return ExitCode.ERROR
    except KeyboardInterrupt:
        out.interrupted(None)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
