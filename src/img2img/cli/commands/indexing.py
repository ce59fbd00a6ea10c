"""``add``, ``index`` and ``sync``: the subcommands that put images into the store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from img2img.cli.command import Command
from img2img.cli.exclude import add_exclude_option, kept_candidates
from img2img.cli.exits import ExitCode, exit_code_for
from img2img.cli.networks import add_allow_network, fetcher_for
from img2img.cli.parser import positive_int
from img2img.cli.progress import IndexProgressBar
from img2img.cli.sources import add_source_options, build_source
from img2img.cli.sync_plan import plan_data, plan_table
from img2img.cli.tables import failures_table, part_failures_table
from img2img.errors import ConfigurationError

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.models import Failure, IndexReport, PartFailure
    from img2img.sync import SyncReport

__all__ = ["ADD", "INDEX", "SYNC"]

#: Failures listed in the table; ``--json`` lists them all.
_SHOWN_FAILURES = 20


def _failure_rows(failures: tuple[Failure, ...]) -> list[dict[str, str]]:
    return [{"url": f.url, "stage": f.stage, "reason": f.reason} for f in failures]


def _show_failures(session: Session, failures: tuple[Failure, ...]) -> None:
    if failures:
        session.out.show(failures_table(failures[:_SHOWN_FAILURES]))
        if len(failures) > _SHOWN_FAILURES:
            session.out.show(f"[dim]… {len(failures) - _SHOWN_FAILURES} more (--json lists all)[/]")


def _part_rows(parts: tuple[PartFailure, ...]) -> list[dict[str, object]]:
    return [{"part": p.part, "reason": p.reason, "status_code": p.status_code} for p in parts]


def _report(session: Session, report: IndexReport, empty_message: str) -> int:
    """Print an add/index report; the exit code follows what failed, parts of the
    source that could not be read (a forbidden channel) included."""
    if session.out.as_json:
        session.out.json(
            {
                "store": str(session.spec),
                "discovered": report.discovered,
                "indexed": report.indexed,
                "skipped": report.skipped,
                "failed": report.failed,
                "elapsed_seconds": round(report.elapsed_seconds, 3),
                "failures": _failure_rows(report.failures),
                "part_failures": _part_rows(report.part_failures),
            }
        )
    else:
        unread = len(report.part_failures)
        session.out.show(
            f"[bold]indexed {report.indexed}[/], skipped {report.skipped}, "
            f"failed {report.failed} of {report.discovered}"
            + (f", [red]could not read {unread}[/]" if unread else "")
            + f" in {report.elapsed_seconds:.1f}s [dim]→ {escape(str(session.spec))}[/]"
        )
        _show_failures(session, report.failures)
        if report.part_failures:
            session.out.show(part_failures_table(report.part_failures))
    if report.discovered == 0:
        session.out.error(empty_message)
        return ExitCode.ERROR
    failed = report.failed + len(report.part_failures)
    return exit_code_for(report.indexed + report.skipped, failed)


def _add_fetch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reindex", action="store_true", help="embed images again even if already stored"
    )
    add_allow_network(parser)


def _configure_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "items", nargs="+", metavar="ITEM", help="image files, folders, or http(s) image URLs"
    )
    parser.add_argument("--keyphrase", help="recorded with each image, for filtering later")
    add_exclude_option(parser)
    _add_fetch_options(parser)


def _run_add(session: Session) -> int:
    args = session.args
    client = session.client(fetcher=fetcher_for(session))
    with IndexProgressBar(
        session.out.errors, "Adding", enabled=session.out.progress_enabled
    ) as bar:
        report = client.add(
            kept_candidates(args.items, args.exclude),
            keyphrase=args.keyphrase,
            reindex=args.reindex,
            progress=bar,
        )
    return _report(session, report, f"found no images in {' '.join(args.items)}")


def _configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "keyphrase",
        nargs="?",
        default="",
        metavar="KEYPHRASE",
        help="what to search for; discord, patreon and reddit (with --subreddit) take "
        "every image without one",
    )
    parser.add_argument(
        "-n", "--limit", type=positive_int, default=100, help="images to index (default: 100)"
    )
    _add_fetch_options(parser)
    add_source_options(parser)


def _run_index(session: Session) -> int:
    args = session.args
    # Options and credentials are checked before a model or store is touched.
    title, source = build_source(args)
    client = session.client(source=source, fetcher=fetcher_for(session))
    with IndexProgressBar(
        session.out.errors, "Indexing", enabled=session.out.progress_enabled
    ) as bar:
        report = client.index(args.keyphrase, limit=args.limit, reindex=args.reindex, progress=bar)
    wanted = f" for {args.keyphrase!r}" if args.keyphrase.strip() else ""
    return _report(session, report, f"{title} found no images{wanted}")


def _configure_sync(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="the folder to mirror in the store")
    parser.add_argument("--keyphrase", help="recorded with the images embedded now")
    parser.add_argument(
        "--checksum",
        action="store_true",
        help="read every file to compare contents, even when size and time are unchanged",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change, change nothing"
    )


def _sync_data(report: SyncReport, session: Session) -> dict[str, Any]:
    return {
        "store": str(session.spec),
        "folder": report.folder,
        "added": report.added,
        "updated": report.updated,
        "moved": report.moved,
        "deleted": report.deleted,
        "unchanged": report.unchanged,
        "failed": report.failed,
        "elapsed_seconds": round(report.elapsed_seconds, 3),
        "failures": _failure_rows(report.failures),
    }


def _run_sync(session: Session) -> int:
    args = session.args
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise ConfigurationError(f"sync needs a folder; {args.folder} is not one")
    if args.dry_run:
        from img2img.sync import plan_sync

        store = session.store
        data = plan_data(plan_sync(folder, store, checksum=args.checksum), store)
        if session.out.as_json:
            session.out.json(data)
        else:
            changes = len(data["add"]) + len(data["update"]) + len(data["move"])
            if changes + len(data["delete"]):
                session.out.show(plan_table(data))
            session.out.show(
                f"would add {len(data['add'])}, update {len(data['update'])}, "
                f"move {len(data['move'])}, delete {len(data['delete'])}; "
                f"{data['unchanged']} unchanged"
            )
        return ExitCode.OK
    client = session.client()
    with IndexProgressBar(
        session.out.errors, "Syncing", enabled=session.out.progress_enabled
    ) as bar:
        report = client.sync(folder, keyphrase=args.keyphrase, checksum=args.checksum, progress=bar)
    if session.out.as_json:
        session.out.json(_sync_data(report, session))
    else:
        session.out.show(f"[bold]{report}[/] [dim]→ {escape(str(session.spec))}[/]")
        _show_failures(session, report.failures)
    done = report.added + report.updated + report.moved + report.unchanged
    return exit_code_for(done, report.failed)


ADD = Command(
    "add",
    "index local files, folders or image URLs",
    _configure_add,
    _run_add,
    store="write",
)
INDEX = Command(
    "index",
    "index the images a web source finds: Google Images (default), Discord, Patreon, "
    "Reddit or Bluesky",
    _configure_index,
    _run_index,
    store="write",
    description="Index images found on the web, each stored with the page it is posted on. "
    "--source picks where to look; each source's options are listed under its name. "
    "Credentials come from environment variables only (see docs/cli.md).",
)
SYNC = Command(
    "sync",
    "make the store match a folder: embed new and changed files, follow renames, drop deleted ones",
    _configure_sync,
    _run_sync,
    store="write",
)
