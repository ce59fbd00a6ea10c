"""TinEye's search reply as candidates: one per backlink, the page where TinEye saw the image.

The reply's shape, as TinEye documents it (and its Python client ``pytineye``
tests it)::

    {"code": 200, "messages": [], "stats": {"total_results": 2, "total_backlinks": 3, ...},
     "results": {"matches": [{"image_url": "https://img.tineye.com/result/...",
                              "domain": "example-blog.net", "score": 87.5,
                              "width": 1200, "height": 800, "format": "JPEG", "filesize": 201533,
                              "overlay": "overlay/...", "tags": [],
                              "backlinks": [{"url": "https://.../photo.jpg",
                                             "backlink": "https://.../a-post/",
                                             "crawl_date": "2019-03-02"}]}]}}

``image_url`` is TinEye's own copy of the matched image; each backlink's
``url`` is the image where it was posted, ``backlink`` the page, and
``crawl_date`` the day TinEye first saw it there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from img2img.models import ImageCandidate, MetadataValue
from img2img.provenance import domain_of
from img2img.sources.fields import compact, http_url, iso_day, positive_int, text

__all__ = ["candidates_from_match"]


def _score(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def candidates_from_match(match: Mapping[str, Any], *, rank: int) -> Iterator[ImageCandidate]:
    """The postings TinEye names for one match, in its order; nothing without an image URL.

    A backlink whose ``url`` is not ``http(s)`` falls back to TinEye's copy
    (``image_url``), so the claim can still be verified.
    """
    copy = http_url(match.get("image_url"))
    backlinks = match.get("backlinks")
    if not isinstance(backlinks, list):
        backlinks = []
    base: dict[str, MetadataValue | None] = {
        "found_by": "tineye",
        "tineye_score": _score(match.get("score")),
        "tineye_rank": rank,
        "tineye_image_url": copy,
        "image_format": text(match.get("format")),
    }
    width, height = positive_int(match.get("width")), positive_int(match.get("height"))
    for backlink in backlinks:
        if not isinstance(backlink, Mapping):
            continue
        image = http_url(backlink.get("url")) or copy
        if image is None:
            continue
        page = http_url(backlink.get("backlink"))
        day = iso_day(backlink.get("crawl_date"))
        yield ImageCandidate(
            image_url=image,
            page_url=page,
            domain=domain_of(page) or text(match.get("domain")) or domain_of(image),
            thumbnail_url=copy,
            width=width,
            height=height,
            position=rank,
            extra=compact({**base, "first_seen_date": day}),
        )
    if not backlinks and copy is not None:
        # A match with no backlink still shows where the picture is: on its domain.
        yield ImageCandidate(
            image_url=copy,
            domain=text(match.get("domain")),
            width=width,
            height=height,
            position=rank,
            extra=compact(base),
        )
