"""``watch``: keep a list of pictures, and say when one appears somewhere new (docs/watch.md).

    img2img watch add art.jpg --label "my art" --source discord --channel 123
    img2img watch list
    img2img watch check --notify https://discord.com/api/webhooks/…   # from cron
    img2img watch remove "my art"

``watch check`` is quiet when nothing is new or gone (exit 0); otherwise it
prints the postings and exits with :data:`~img2img.cli.exits.ExitCode.NEW`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich.markup import escape

from img2img.cli.command import Command
from img2img.cli.commands.locating import ENGINE_OPTIONS
from img2img.cli.exits import ExitCode, UsageError
from img2img.cli.networks import add_allow_network, allowed_networks, fetcher_for
from img2img.cli.parser import add_global_options
from img2img.cli.sources import SOURCE_OPTIONS
from img2img.cli.watch_output import changes_table, check_json, picture_json, pictures_table
from img2img.errors import Img2ImgError

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.watch.book import WatchBook
    from img2img.watch.check import WatchCheck

__all__ = ["WATCH"]


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="watch_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="watch pictures (files or URLs)")
    add.add_argument("files", nargs="+", metavar="FILE", help="picture files or http(s) URLs")
    add.add_argument("--label", help="how the picture is shown (default: its file name)")
    add.add_argument("--keyphrase", default="", help="what the source is searched with")
    # Engines are named only: at a check each is built from its key in the environment
    # (their own options would clash with the sources' ones, e.g. --country).
    add.add_argument(
        "--engine",
        action="append",
        metavar="NAME[,NAME…]",
        help="the engines to ask at each check, comma-separated or repeated (default: every "
        "engine whose key is set)",
    )
    SOURCE_OPTIONS.add_to(add, help="also read this source at each check, e.g. discord")
    add_allow_network(add)
    add_global_options(add)

    listing = actions.add_parser("list", help="the watched pictures")
    add_global_options(listing)

    remove = actions.add_parser("remove", help="stop watching pictures")
    remove.add_argument("pictures", nargs="+", metavar="ID|LABEL", help="ids, id prefixes, labels")
    add_global_options(remove)

    check = actions.add_parser(
        "check",
        help="ask the engines and read the sources; print what is new or gone (exit 10)",
    )
    check.add_argument(
        "--budget", type=int, metavar="N", help="paid searches in all (default: no limit)"
    )
    check.add_argument(
        "--html", metavar="FILE", type=Path, help="also write the check as one HTML file"
    )
    check.add_argument(
        "--notify",
        metavar="URL",
        help="POST the new and gone postings as JSON to this webhook (Discord, Slack, any)",
    )
    add_allow_network(check)
    add_global_options(check)


def _book(session: Session) -> WatchBook:
    from img2img.watch.book import WatchBook
    from img2img.watch.listing import watch_path_beside

    return WatchBook(watch_path_beside(session.client().pictures.path))


def _run_add(session: Session) -> int:
    args = session.args
    engines = ENGINE_OPTIONS.names_given(args)
    installed = ENGINE_OPTIONS.adapters()
    for name in engines:
        if name not in installed:
            raise UsageError(
                f"--engine {name}: no such engine is installed ({', '.join(installed)} are)"
            )
    sources: list[str] = []
    options: dict[str, dict[str, Any]] = {}
    if getattr(args, SOURCE_OPTIONS.dest, None) is not None:
        name, _, values = SOURCE_OPTIONS.chosen(args)
        sources.append(name)
        options[name] = dict(values)
    elif SOURCE_OPTIONS.given(args):
        raise UsageError("source options need --source naming the source they are for")
    client = session.client(fetcher=fetcher_for(session))
    added = client.watch(
        args.files, engines=engines, sources=sources, label=args.label, keyphrase=args.keyphrase
    )
    with _book(session) as book:
        for picture in added:
            book.set_source_options(picture.id, options)
    if session.out.as_json:
        session.out.json([picture_json(p, options) for p in added])
    else:
        for picture in added:
            session.out.show(f"watching {escape(str(picture))}")
    return ExitCode.OK


def _run_list(session: Session) -> int:
    pictures = session.client().watched()
    if session.out.as_json:
        with _book(session) as book:
            session.out.json([picture_json(p, book.source_options(p.id)) for p in pictures])
    elif pictures:
        session.out.show(pictures_table(pictures))
    else:
        session.out.note("no picture is watched; add one with: img2img watch add FILE")
    return ExitCode.OK


def _run_remove(session: Session) -> int:
    client = session.client()
    with _book(session) as book:
        missing = [name for name in session.args.pictures if not book.resolve(name)]
    removed = client.unwatch(session.args.pictures)
    if session.out.as_json:
        session.out.json({"removed": removed, "not_watched": missing})
    else:
        session.out.show(f"stopped watching {removed} pictures")
    for name in missing:
        session.out.error(f"no watched picture {name!r}")
    return ExitCode.PARTIAL if missing and removed else ExitCode.ERROR if missing else ExitCode.OK


def _run_check(session: Session) -> int:
    from img2img.cli.watch_run import run_watch_check

    args = session.args
    if args.budget is not None and args.budget < 0:
        raise UsageError(f"--budget must be 0 or more, got {args.budget}")
    if args.html is not None and args.html.expanduser().is_dir():
        raise UsageError(f"--html {args.html} is a folder; give the report a file name")
    if args.notify and urlsplit(args.notify).scheme not in ("http", "https"):
        raise UsageError(f"--notify takes an http(s) webhook URL, not {args.notify!r}")
    client = session.client(fetcher=fetcher_for(session))
    with _book(session) as book:
        check, failed = run_watch_check(client, book, budget=args.budget)
        # From here on the check is kept: a report or webhook that fails is said, not fatal.
        written = _write_html(session, check, book)
    changed = bool(check.new or check.gone)
    notified: bool | None = None
    if args.notify and changed:
        notified = _notify(session, check)
    if session.out.as_json:
        session.out.json(check_json(check, notified=notified))
    elif changed:
        session.out.show(changes_table(check))
    for problem in failed:
        session.out.error(problem)
    if not written or notified is False or (failed and not changed):
        return ExitCode.PARTIAL
    return ExitCode.NEW if changed else ExitCode.OK


def _write_html(session: Session, check: WatchCheck, book: WatchBook) -> bool:
    """Write the report ``--html`` asks for, if it does; ``False`` when it could not be."""
    if session.args.html is None:
        return True
    from img2img.report.watch import write_watch_html

    try:
        written = write_watch_html(
            check,
            session.args.html,
            pictures=lambda id: _bytes_of(book, id),
            client=session.client(),
        )
    except Img2ImgError as exc:
        session.out.error(f"the report was not written: {exc}")
        return False
    session.out.note(f"Report written to {written}")
    return True


def _notify(session: Session, check: WatchCheck) -> bool:
    """POST the check to ``--notify``; whether the webhook took it (a failure is said)."""
    from img2img.watch.notify import notify_webhook

    try:
        notify_webhook(session.args.notify, check, allowed_networks=allowed_networks(session))
    except Img2ImgError as exc:
        session.out.error(f"the webhook was not told: {exc}")
        return False
    return True


def _bytes_of(book: WatchBook, id: str) -> bytes | None:
    try:
        return book.picture_bytes(id)
    except Img2ImgError:
        return None


def _run(session: Session) -> int:
    action = session.args.watch_action
    runs = {"add": _run_add, "list": _run_list, "remove": _run_remove, "check": _run_check}
    return runs[action](session)


WATCH = Command(
    "watch",
    "watch pictures: say when one is posted somewhere new, or a posting is gone "
    "(add, list, remove, check)",
    _configure,
    _run,
    store="write",
    uses_model=False,  # no note about the model: cron mails whatever a check prints
    description="Keep a list of pictures and check where they are posted: 'watch check' asks "
    "the engines and reads the sources each picture names, prints nothing when nothing is "
    "new or gone (exit 0), else the postings (exit 10). Made for cron; see docs/watch.md.",
)
