"""From a result of ``search``, ``find_postings``, ``locate`` or ``duplicates`` to a :class:`Report`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from img2img.errors import Img2ImgError
from img2img.locate.results import Claim, Located
from img2img.models import Match, PictureGroup, Posting, Postings, Unverified
from img2img.report.placement import query_relation_words, relation_counts
from img2img.report.thumbnails import Thumbnail, ThumbnailLookup, local_thumbnails, thumbnail_of
from img2img.report.views import (
    Card,
    Folded,
    Group,
    Report,
    dates_of,
    engines_of,
    link_text,
    posting_card,
    safe_href,
    site_of,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ReportResult", "build_report", "query_card"]

#: What a report can be drawn from: the answer of ``search`` (plain or grouped),
#: ``find_postings``, ``locate`` or ``duplicates``.
ReportResult: TypeAlias = (
    "Sequence[Match] | Sequence[PictureGroup] | Postings | Located | Iterable[PictureGroup]"
)
#: The picture asked about: a path, a URL, bytes or a PIL image.
QueryImage: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image"


def _thumbnail(lookup: ThumbnailLookup, id: str, image_url: str | None) -> Thumbnail | None:
    try:
        image = lookup(id, image_url)
    except (Img2ImgError, OSError):
        return None
    return thumbnail_of(image) if image is not None else None


def _query_image(query: QueryImage) -> tuple[Image.Image | None, str]:
    """The query's pixels, when they are on this machine, and how to name it."""
    from PIL import Image

    from img2img.images import decode_image

    if isinstance(query, Image.Image):
        return query, "the picture given"
    if isinstance(query, bytes):
        try:
            return decode_image(query), "the picture given"
        except Img2ImgError:
            return None, "the picture given"
    text = os.fspath(query)
    if "://" in text and not text.startswith("file:"):
        return None, text  # a web address: not downloaded to draw a report
    path = Path(link_text(text) if text.startswith("file:") else text).expanduser()
    try:
        return decode_image(path.read_bytes()), str(path)
    except (OSError, Img2ImgError):
        return None, str(path)


def query_card(query: QueryImage) -> Card:
    """The card at the top: the picture asked about."""
    image, name = _query_image(query)
    url = name if "://" in name else Path(name).resolve().as_uri() if image is not None else None
    return Card(
        thumbnail=thumbnail_of(image) if image is not None else None,
        title=name,
        site="",
        href=safe_href(url),
        link_text=name,
    )


def _match_card(match: Match, lookup: ThumbnailLookup) -> Card:
    url = match.page_url or match.image_url
    return Card(
        thumbnail=_thumbnail(lookup, match.id, match.image_url),
        title=match.title or "",
        site=site_of(match.domain, url),
        href=safe_href(url),
        link_text=link_text(url),
        image_href=safe_href(match.image_url),
        score=match.score,
        dates=dates_of(match.metadata),
        engines=engines_of(match.metadata),
    )


def _cards(postings: Iterable[Posting], lookup: ThumbnailLookup) -> tuple[Card, ...]:
    return tuple(posting_card(p, _thumbnail(lookup, p.id, p.image_url)) for p in postings)


def _claims(claims: Iterable[Claim]) -> tuple[Folded, ...]:
    return tuple(
        Folded(
            site=site_of(c.domain, c.page_url or c.image_url),
            href=safe_href(c.page_url or c.image_url),
            link_text=link_text(c.page_url or c.image_url),
            reason=c.reason,
            stage=c.stage,
            title=c.title or "",
        )
        for c in claims
    )


def _unverified(items: Iterable[Unverified]) -> tuple[Folded, ...]:
    return tuple(
        Folded(
            site=site_of(None, u.page_url or u.image_url),
            href=safe_href(u.page_url or u.image_url),
            link_text=link_text(u.page_url or u.image_url),
            reason=u.reason,
        )
        for u in items
    )


def _group_heading(group: PictureGroup, number: int, grouped_search: bool) -> str:
    count = f"{len(group)} posting" + ("" if len(group) == 1 else "s")
    if not grouped_search:
        return f"picture {number}: {count}"
    what = query_relation_words(group.query_relation)
    return f"picture {number} ({what}, score {group.score:.3f}): {count}"


def _groups_report(
    groups: Sequence[PictureGroup], lookup: ThumbnailLookup, query: Card | None, kind: str
) -> Report:
    grouped_search = kind == "search"
    return Report(
        kind=kind,
        heading="Pictures like this one" if grouped_search else "Pictures stored more than once",
        query=query,
        summary=(f"{len(groups)} pictures",),
        groups=tuple(
            Group(_group_heading(g, n, grouped_search), _cards(g.postings, lookup))
            for n, g in enumerate(groups, start=1)
        ),
        empty="no picture is stored more than once" if kind == "duplicates" else "no matches",
    )


def _verified_heading(postings: Sequence[Posting]) -> str:
    return f"{len(postings)} postings, verified: {relation_counts(p.relation for p in postings)}"


def build_report(
    result: ReportResult,
    *,
    query: QueryImage | None = None,
    query_text: str = "",
    thumbnails: ThumbnailLookup | None = None,
    kind: str | None = None,
) -> Report:
    """The :class:`Report` of ``result``; ``thumbnails`` finds each picture (default: local files).

    ``kind`` names the command for a list whose type does not tell (``"duplicates"``
    for groups not from a search); the rest is told from ``result``'s type.
    """
    lookup = thumbnails or local_thumbnails()
    top = query_card(query) if query is not None else None
    if isinstance(result, Located):
        report = result.report
        return Report(
            kind="locate",
            heading="Where this picture is posted on the web",
            query=top,
            summary=(str(report),),
            groups=(Group(_verified_heading(result), _cards(result, lookup)),)
            if len(result)
            else (),
            folded=tuple(
                (title, _claims(claims))
                for title, claims in (
                    ("alike, another picture", result.alike),
                    ("claimed, not postings", result.rejected),
                )
                if claims
            ),
            empty="no page the search engine named shows this picture",
        )
    if isinstance(result, Postings):
        return Report(
            kind="postings",
            heading="Where this picture is posted",
            query=top,
            summary=(f"{len(result)} postings among {result.candidates} candidates",),
            groups=(Group(f"{len(result)} postings", _cards(result, lookup)),)
            if len(result)
            else (),
            folded=(("not verified", _unverified(result.unverified)),) if result.unverified else (),
            empty=f"no postings of this picture among {result.candidates} candidates",
        )
    items = list(result)
    if (items and isinstance(items[0], PictureGroup)) or kind == "duplicates":
        groups = [g for g in items if isinstance(g, PictureGroup)]
        return _groups_report(groups, lookup, top, kind or "search")
    matches = [m for m in items if isinstance(m, Match)]
    return Report(
        kind="search",
        heading="Stored images like this" if not query_text else "Stored images fitting the words",
        query=top,
        query_text=query_text,
        summary=(f"{len(matches)} matches",),
        groups=(Group("matches", tuple(_match_card(m, lookup) for m in matches)),)
        if matches
        else (),
        empty="no matches",
    )
