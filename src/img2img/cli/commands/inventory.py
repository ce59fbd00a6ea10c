"""``info``, ``list`` and ``delete``: what the store holds, and taking records out."""

from __future__ import annotations

import argparse
from itertools import islice
from typing import TYPE_CHECKING, Any

from img2img.cli.command import Command
from img2img.cli.commands.plugins import installed_adapters
from img2img.cli.exits import ExitCode, UsageError, exit_code_for
from img2img.cli.parser import json_filter, positive_int
from img2img.cli.tables import counts_table, overview_table, record_rows, records_table
from img2img.stats import matching_records, store_stats

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.models import Filter

__all__ = ["DELETE", "INFO", "LIST"]


def _human_size(size: int | None) -> str:
    if size is None:
        return "—"
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def _size_of(store: object) -> int | None:
    """Bytes a store takes on this machine, if it says (``size_bytes()``); ``None`` if not."""
    size = getattr(store, "size_bytes", None)
    return int(size()) if callable(size) else None


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--top", type=positive_int, default=10, help="values shown per count table (default: 10)"
    )


def _run_info(session: Session) -> int:
    stats = store_stats(session.store)
    space = stats.space
    data: dict[str, Any] = {
        "store": str(session.spec),
        "kind": session.spec.kind,
        "size_bytes": _size_of(session.store),
        "count": stats.count,
        "model": space.model_id if space else None,
        "dimension": space.dimension if space else None,
        "by_keyphrase": dict(stats.by_keyphrase),
        "by_domain": dict(stats.by_domain),
        "by_source": dict(stats.by_source),
        "adapters": installed_adapters(),
    }
    if session.out.as_json:
        session.out.json(data)
        return ExitCode.OK
    session.out.show(
        overview_table(
            {
                "store": data["store"],
                "size": _human_size(data["size_bytes"]),
                "images": f"{stats.count:,}",
                "model": data["model"] or "none yet",
                "dimension": data["dimension"] or "—",
                **{
                    f"installed {kind.replace('_', ' ')}s": ", ".join(names) or "none"
                    for kind, names in data["adapters"].items()
                },
            }
        )
    )
    if stats.count:
        top = session.args.top
        for title, counts in (
            ("keyphrase", stats.by_keyphrase),
            ("domain", stats.by_domain),
            ("source", stats.by_source),
        ):
            session.out.show("", counts_table(title, counts, top=top))
    return ExitCode.OK


def _selector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--filter", type=json_filter, metavar="JSON", help="a metadata filter")
    parser.add_argument("--keyphrase", help="records indexed for this keyphrase")
    parser.add_argument("--domain", help="records from this site, e.g. flickr.com")


def _selector(args: argparse.Namespace) -> Filter | None:
    """The filter the options select with, all of them together; ``None`` for none."""
    parts: list[Filter] = []
    if args.filter:
        parts.append(args.filter)
    if args.keyphrase is not None:
        parts.append({"keyphrase": args.keyphrase})
    if args.domain is not None:
        parts.append({"domain": args.domain})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _configure_list(parser: argparse.ArgumentParser) -> None:
    _selector_options(parser)
    limits = parser.add_mutually_exclusive_group()
    limits.add_argument(
        "-n", "--limit", type=positive_int, default=50, help="records shown (default: 50)"
    )
    limits.add_argument("--all", action="store_true", help="every matching record")


def _run_list(session: Session) -> int:
    args = session.args
    found = matching_records(session.store, _selector(args))
    records = list(found if args.all else islice(found, args.limit))
    more = 0 if args.all else sum(1 for _ in found)
    if session.out.as_json:
        session.out.json(record_rows(records))
    elif records:
        session.out.show(records_table(records))
        if more:
            session.out.show(f"[dim]… {more} more (--all shows every one)[/]")
    else:
        session.out.show("no records")
    return ExitCode.OK


def _configure_delete(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID", help="record ids, as 'list' shows them")
    _selector_options(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be deleted, delete nothing"
    )


def _run_delete(session: Session) -> int:
    args = session.args
    selector = _selector(args)
    if not args.ids and selector is None:
        raise UsageError("say what to delete: ids, --filter, --keyphrase or --domain")
    store = session.store
    chosen = list(store.fetch(args.ids)) if args.ids else []
    missing = sorted(set(args.ids) - set(chosen))
    if selector is not None:
        matched = {record.id for record in matching_records(store, selector)}
        chosen = [i for i in chosen if i in matched] if args.ids else sorted(matched)
    records = store.fetch(chosen) if args.dry_run and chosen else {}
    if not args.dry_run and chosen:
        store.delete(chosen)
    if session.out.as_json:
        key = "would_delete" if args.dry_run else "deleted"
        session.out.json({key: chosen, "count": len(chosen), "not_found": missing})
    else:
        if args.dry_run and records:
            session.out.show(records_table([records[i] for i in chosen if i in records]))
        verb = "would delete" if args.dry_run else "deleted"
        session.out.show(f"{verb} {len(chosen)} record{'s' if len(chosen) != 1 else ''}")
    if missing:
        session.out.error(f"no record with id {', '.join(missing)}")
    # Some ids found and some not is a partial success (3); none found is an error (1).
    return exit_code_for(len(chosen), len(missing))


INFO = Command(
    "info",
    "what the store holds: size, model, counts by keyphrase, domain and source",
    _configure_info,
    _run_info,
    aliases=("stats",),
)
LIST = Command("list", "list stored records, optionally filtered", _configure_list, _run_list)
DELETE = Command(
    "delete",
    "delete records by id, filter, keyphrase or domain",
    _configure_delete,
    _run_delete,
)
