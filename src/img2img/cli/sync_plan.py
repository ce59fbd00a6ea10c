"""``sync --dry-run``: what a sync would change, by path and record id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.cli.text import plain

if TYPE_CHECKING:
    from rich.table import Table

    from img2img.models import VectorRecord
    from img2img.protocols import VectorStore
    from img2img.sync import SyncPlan

__all__ = ["plan_data", "plan_table"]


def _stored_path(record: VectorRecord | None) -> str | None:
    url = record.metadata.get("image_url") if record is not None else None
    if not isinstance(url, str):
        return None
    return url2pathname(urlsplit(url).path) if url.startswith("file:") else url


def plan_data(plan: SyncPlan, store: VectorStore) -> dict[str, Any]:
    """What a sync would do, by path and record id: the files to embed, the records
    that would follow a renamed or copied file, and those that would be deleted."""
    from img2img.provenance import record_id
    from img2img.sync import path_of

    new = plan.embed[: len(plan.embed) - plan.changed]
    moves = [(old, c) for old, c in plan.rewrites if old != record_id(c)]
    moved_from = {old for old, _ in moves}
    deleted = [identity for identity in plan.delete if identity not in moved_from]
    stored = store.fetch(sorted(moved_from | set(deleted)))
    return {
        "folder": str(plan.root),
        "add": [str(path_of(c)) for c in new],
        "update": [str(path_of(c)) for c in plan.embed[len(new) :]],
        "move": [
            {"id": old, "from": _stored_path(stored.get(old)), "to": str(path_of(c))}
            for old, c in moves
        ],
        "delete": [{"id": i, "path": _stored_path(stored.get(i))} for i in deleted],
        "unchanged": plan.unchanged,
    }


def plan_table(data: dict[str, Any]) -> Table:
    """One row per file a sync would change: what, the path, and the record id."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("would")
    table.add_column("path", overflow="fold")
    table.add_column("record", style="dim", no_wrap=True)
    for path in data["add"]:
        table.add_row("add", plain(path), "")
    for path in data["update"]:
        table.add_row("update", plain(path), "")
    for move in data["move"]:
        table.add_row("move", plain(f"{move['from']} -> {move['to']}"), move["id"])
    for gone in data["delete"]:
        table.add_row("delete", plain(gone["path"]), gone["id"])
    return table
