"""The watch list and its checks as rich tables for people, and as plain data for ``--json``."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from img2img.cli.tables import link, site
from img2img.cli.text import plain

if TYPE_CHECKING:
    from rich.table import Table

    from img2img.watch.book import WatchedPicture, WatchedPosting
    from img2img.watch.check import PictureCheck, WatchCheck

__all__ = [
    "check_json",
    "changes_table",
    "picture_json",
    "pictures_table",
    "posting_json",
]


def _day(seconds: int | None) -> str:
    if seconds is None:
        return ""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d")


def picture_json(picture: WatchedPicture, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One watched picture as JSON-ready data."""
    return {
        "id": picture.id,
        "label": picture.label,
        "engines": list(picture.engines),
        "sources": list(picture.sources),
        "source_options": options or {},
        "keyphrase": picture.keyphrase,
        "added_at": picture.added_at,
        "last_checked_at": picture.last_checked_at,
        "postings": picture.postings,
    }


def posting_json(posting: WatchedPosting) -> dict[str, Any]:
    """One posting of a watched picture as JSON-ready data."""
    return {
        "posting_id": posting.posting_id,
        "page_url": posting.page_url,
        "image_url": posting.image_url,
        "domain": posting.domain,
        "title": posting.title,
        "relation": posting.relation,
        "found_by": list(posting.found_by),
        "first_seen": posting.first_seen,
        "last_seen": posting.last_seen,
        "present": posting.present,
    }


def _picture_check_json(check: PictureCheck) -> dict[str, Any]:
    return {
        "id": check.picture.id,
        "label": check.picture.label,
        "new": [posting_json(p) for p in check.new],
        "still_there": [posting_json(p) for p in check.still_there],
        "gone": [posting_json(p) for p in check.gone],
        "unchecked": [posting_json(p) for p in check.unchecked],
        "problems": list(check.problems),
        "searches": check.searches,
    }


def check_json(check: WatchCheck, *, notified: bool | None = None) -> dict[str, Any]:
    """The whole check: per picture its new, still-there, gone and unchecked postings."""
    data: dict[str, Any] = {
        "new": len(check.new),
        "gone": len(check.gone),
        "searches": check.searches,
        "max_searches": check.max_searches,
        "skipped": list(check.skipped),
        "pictures": [_picture_check_json(c) for c in check.pictures],
    }
    if notified is not None:
        data["notified"] = notified
    return data


def pictures_table(pictures: Sequence[WatchedPicture]) -> Table:
    """Each watched picture: its id, label, what a check asks, postings, last check."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("id")
    table.add_column("label", overflow="fold")
    table.add_column("engines")
    table.add_column("sources")
    table.add_column("postings", justify="right")
    table.add_column("last checked")
    for picture in pictures:
        table.add_row(
            picture.id[:12],
            plain(picture.label),
            plain(", ".join(picture.engines) or "every engine set up"),
            plain(", ".join(picture.sources)),
            str(picture.postings),
            _day(picture.last_checked_at) or "never",
        )
    return table


def changes_table(check: WatchCheck) -> Table:
    """The postings new or gone since the last check, one row each: new first."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("status", style="bold")
    table.add_column("picture", overflow="fold")
    table.add_column("site", style="magenta")
    table.add_column("found by")
    table.add_column("first seen")
    table.add_column("link", overflow="fold", min_width=20)
    for status, which in (("new", "new"), ("gone", "gone")):
        for picture in check.pictures:
            for posting in getattr(picture, which):
                url = posting.page_url or posting.image_url
                table.add_row(
                    status,
                    plain(picture.picture.label),
                    site(posting.domain, url),
                    plain(", ".join(posting.found_by)),
                    _day(posting.first_seen),
                    link(url),
                )
    return table
