"""``--html FILE``: the answer of a command also written as a self-contained HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.report.build import QueryImage, ReportResult

__all__ = ["add_html_option", "write_report"]


def add_html_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--html FILE`` to a subcommand."""
    parser.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        help="also write the answer as one HTML file with thumbnails (opens offline)",
    )


def write_report(
    session: Session,
    result: ReportResult,
    *,
    query: QueryImage | None = None,
    query_text: str = "",
    kind: str | None = None,
) -> None:
    """Write the report ``--html`` asked for, if it did, and say where it is."""
    target: Path | None = getattr(session.args, "html", None)
    if target is None:
        return
    from img2img.report.html import write_html

    written = write_html(
        result,
        target,
        query=query,
        query_text=query_text,
        client=session.client(),
        kind=kind,
    )
    session.out.note(f"Report written to {written}")
