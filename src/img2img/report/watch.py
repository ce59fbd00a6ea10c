"""A check of the watch list as a :class:`Report`: per picture, what is new, still there, gone.

Each watched picture is drawn at the top of its part of the page (from the
watch list's own copy), then its new postings, marked, then those still there,
then those gone, folded away. Thumbnails of postings come from the picture
cache or local files, as in every report: nothing is downloaded.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from img2img.errors import ConfigurationError, Img2ImgError
from img2img.report.thumbnails import Thumbnail, ThumbnailLookup, local_thumbnails, thumbnail_of
from img2img.report.views import Card, Group, Report, link_text, safe_href, site_of

if TYPE_CHECKING:
    from img2img.client import ImageSearchClient
    from img2img.watch.book import WatchedPosting
    from img2img.watch.check import PictureCheck, WatchCheck

__all__ = ["watch_report", "write_watch_html"]

#: The bytes the watch list keeps of a watched picture (by its id), or ``None``.
PictureBytes = Callable[[str], "bytes | None"]


def _thumbnail_of_bytes(data: bytes | None) -> Thumbnail | None:
    from img2img.images import decode_image

    if data is None:
        return None
    try:
        return thumbnail_of(decode_image(data))
    except Img2ImgError:
        return None


def _posting_thumbnail(lookup: ThumbnailLookup, posting: WatchedPosting) -> Thumbnail | None:
    try:
        image = lookup(posting.posting_id, posting.image_url)
    except (Img2ImgError, OSError):
        return None
    return thumbnail_of(image) if image is not None else None


def _day(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


def _card(posting: WatchedPosting, lookup: ThumbnailLookup, mark: str) -> Card:
    url = posting.page_url or posting.image_url
    return Card(
        thumbnail=_posting_thumbnail(lookup, posting),
        title=posting.title or "",
        site=site_of(posting.domain, url),
        href=safe_href(url),
        link_text=link_text(url),
        image_href=safe_href(posting.image_url),
        relation=posting.relation,
        dates=(("first seen", _day(posting.first_seen)), ("last seen", _day(posting.last_seen))),
        engines=posting.found_by,
        mark=mark,
    )


def _groups(check: PictureCheck, lookup: ThumbnailLookup, picture: PictureBytes) -> list[Group]:
    watched = check.picture
    top = Card(
        thumbnail=_thumbnail_of_bytes(picture(watched.id)),
        title=watched.label,
        site="",
        href=None,
        link_text="; ".join(check.problems),
    )
    parts = [
        ("new", check.new, "new", False),
        ("still there", check.still_there, "", False),
        ("not reachable this time", check.unchecked, "", False),
        ("gone", check.gone, "gone", True),
    ]
    groups = [
        Group(
            f"{len(postings)} {title}",
            tuple(_card(p, lookup, mark) for p in postings),
            folded=folded,
        )
        for title, postings, mark, folded in parts
        if postings
    ]
    if not groups:
        groups = [Group("no postings found yet", ())]
    first = groups[0]
    groups[0] = Group(first.heading, first.cards, first.note, picture=top, folded=first.folded)
    return groups


def watch_report(
    check: WatchCheck, *, thumbnails: ThumbnailLookup | None = None, pictures: PictureBytes
) -> Report:
    """The :class:`Report` of ``check``; ``pictures`` gives each watched picture's bytes by id."""
    lookup = thumbnails or local_thumbnails()
    summary = [str(check)]
    if check.skipped:
        summary.append(f"skipped for the budget: {len(check.skipped)}")
    return Report(
        kind="watch",
        heading="What is new where your pictures are posted",
        query=None,
        summary=tuple(summary),
        groups=tuple(g for c in check.pictures for g in _groups(c, lookup, pictures)),
        empty="no picture is watched",
    )


def write_watch_html(
    check: WatchCheck,
    path: str | os.PathLike[str],
    *,
    pictures: PictureBytes,
    client: ImageSearchClient | None = None,
) -> Path:
    """Write the report of ``check`` to ``path`` as one HTML file; returns the path."""
    from img2img.report.html import render_report

    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigurationError(f"{target} is a folder; give the report a file name")
    lookup = local_thumbnails(client.pictures if client is not None else None)
    html = render_report(watch_report(check, thumbnails=lookup, pictures=pictures))
    try:
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the report to {target}: {exc}") from exc
    return target
