"""The command's results as rich tables for people, and as plain data for ``--json``.

Links are rich hyperlinks: a terminal that supports them makes the page (or,
for a local file, the file) clickable, and shows the address either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.cli.text import plain, printable

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from img2img.models import Failure, Match, Metadata, PartFailure, VectorRecord

__all__ = [
    "counts_table",
    "failures_table",
    "link",
    "match_rows",
    "matches_table",
    "overview_table",
    "part_failures_table",
    "record_rows",
    "records_table",
    "site",
]


def _display(url: str) -> str:
    """What to show for a link: the path of a local file, else the URL."""
    parts = urlsplit(url)
    return url2pathname(parts.path) if parts.scheme == "file" else url


def site(domain: str | None, url: str | None) -> Text:
    """The site to show: a local file's folder rather than ``localhost``, else the domain."""
    if url and urlsplit(url).scheme == "file":
        return plain(str(PurePath(_display(url)).parent))
    return plain(domain)


def link(url: str | None) -> Text:
    """``url`` as clickable text; an empty text for ``None``."""
    from rich.style import Style
    from rich.text import Text

    if not url:
        return Text("")
    # The target too: a terminal shows it on hover, and it came from a stranger.
    return plain(_display(url), style=Style(link=printable(url), color="cyan"))


def _str(metadata: Metadata, key: str) -> str:
    value = metadata.get(key)
    return value if isinstance(value, str) else ""


def matches_table(matches: Sequence[Match]) -> Table:
    """Rank, score, title, site and a link to where each match is posted."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", style="bold")
    table.add_column("score", justify="right")
    table.add_column("title", overflow="fold", min_width=12)
    table.add_column("site", style="magenta")
    table.add_column("link", overflow="fold", min_width=20)
    for rank, match in enumerate(matches, start=1):
        table.add_row(
            str(rank),
            f"{match.score:.3f}",
            plain(match.title),
            site(match.domain, match.page_url or match.image_url),
            link(match.page_url or match.image_url),
        )
    return table


def match_rows(matches: Sequence[Match]) -> list[dict[str, Any]]:
    """Matches as JSON objects: rank, id, score, ``page_url`` (``null`` when unknown; a
    local file's own URL), then every stored field."""
    return [
        {"rank": rank, "id": m.id, "score": round(m.score, 6), **m.metadata, "page_url": m.page_url}
        for rank, m in enumerate(matches, start=1)
    ]


def records_table(records: Sequence[VectorRecord]) -> Table:
    """Stored records: short id, title, site, keyphrase and link."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("title", overflow="fold", min_width=12)
    table.add_column("site", style="magenta")
    table.add_column("keyphrase")
    table.add_column("link", overflow="fold", min_width=20)
    for record in records:
        md = record.metadata
        table.add_row(
            plain(record.id),
            plain(_str(md, "title")),
            site(_str(md, "domain"), _str(md, "page_url") or _str(md, "image_url")),
            plain(_str(md, "keyphrase")),
            link(_str(md, "page_url") or _str(md, "image_url")),
        )
    return table


def record_rows(records: Iterable[VectorRecord]) -> list[dict[str, Any]]:
    """Records as JSON objects: the id, then every stored field (no vector)."""
    return [{"id": record.id, **record.metadata} for record in records]


def failures_table(failures: Sequence[Failure]) -> Table:
    """One row per item that could not be indexed: stage, what, why."""
    from rich.table import Table

    table = Table(title="failed", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("stage", style="red")
    table.add_column("image", overflow="fold")
    table.add_column("reason", overflow="fold")
    for failure in failures:
        table.add_row(failure.stage, link(failure.url), plain(failure.reason))
    return table


def part_failures_table(parts: Sequence[PartFailure]) -> Table:
    """One row per part of a source (a channel, a subreddit) that could not be read."""
    from rich.table import Table

    table = Table(title="could not read", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("part", style="red", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for part in parts:
        table.add_row(plain(part.part), plain(part.reason))
    return table


def overview_table(rows: Mapping[str, object]) -> Table:
    """Two columns, a name and a value per row."""
    from rich.table import Table

    table = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows.items():
        table.add_row(plain(name), plain(str(value)))
    return table


def counts_table(title: str, counts: Mapping[str, int], *, top: int = 10) -> Table:
    """The ``top`` largest of ``counts``, and how many values are left out."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column(title, overflow="fold")
    table.add_column("images", justify="right")
    items = list(counts.items())
    for name, count in items[:top]:
        table.add_row(plain(name), f"{count:,}")
    if len(items) > top:
        rest = sum(count for _, count in items[top:])
        table.add_row(f"[dim]… {len(items) - top} more[/]", f"[dim]{rest:,}[/]")
    return table
