"""``plugins``: the sources, engines, embedders and stores installed, and where each comes from."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import img2img.registry as registry
from img2img.cli.command import Command
from img2img.cli.exits import ExitCode
from img2img.errors import Img2ImgError

if TYPE_CHECKING:
    from img2img.cli.session import Session

__all__ = ["PLUGINS", "installed_adapters"]

#: How each kind of adapter is chosen on the command line.
_CHOSEN_BY = {
    "source": "index --source NAME",
    "reverse_source": "locate --engine NAME",
    "embedder": "--embedder NAME",
    "store": "--store NAME://WHERE",
}


def installed_adapters() -> dict[str, list[str]]:
    """The names of the adapters installed, by kind; nothing is imported."""
    return {kind: list(registry.available(kind)) for kind in registry.GROUPS}


def _describe(registration: registry.Registration, check: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": registration.name,
        "class": registration.target,
        "provider": registration.provider,
    }
    if check:
        try:
            adapter = registration.load()
        except Img2ImgError as exc:
            row["error"] = str(exc)
        except Exception as exc:  # a package's bug is shown, not raised
            row["error"] = f"fails to import: {exc!r}"
        else:
            row["note"] = getattr(adapter, "command_note", "")
            row["options"] = [
                f"--{option.name}" for option in getattr(adapter, "command_options", ())
            ]
    return row


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-import",
        dest="check",
        action="store_false",
        help="list names only; do not import each adapter to check that it loads",
    )


def _run(session: Session) -> int:
    check = session.args.check
    data = {
        kind: [_describe(r, check) for r in registry.available(kind).values()]
        for kind in registry.GROUPS
    }
    if session.out.as_json:
        session.out.json(data)
        return ExitCode.OK
    from rich.table import Table

    for kind, rows in data.items():
        table = Table(
            title=f"{kind.replace('_', ' ')}s ({_CHOSEN_BY[kind]}; entry points "
            f"{registry.GROUPS[kind]})",
            title_justify="left",
            show_edge=False,
            pad_edge=False,
        )
        table.add_column("name", style="bold")
        table.add_column("from")
        table.add_column("class", overflow="fold")
        table.add_column("options" if check else "", overflow="fold")
        for row in rows:
            detail = row.get("error") or " ".join(row.get("options", ()))
            table.add_row(row["name"], row["provider"] or "registered", row["class"], detail)
        session.out.show(table, "")
    return ExitCode.OK


PLUGINS = Command(
    "plugins",
    "the sources, engines, embedders and stores installed (entry points), and their options",
    _configure,
    _run,
)
