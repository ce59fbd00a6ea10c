"""SauceNAO's JSON reply (``output_type=2``) as candidates and a quota.

The reply's shape, as SauceNAO's API returns it and its client libraries
read it (PicImageSearch's ``model/saucenao.py``, ``saucenao_api``)::

    {"header": {"status": 0, "short_limit": "4", "long_limit": "100",
                "short_remaining": 3, "long_remaining": 99, "results_returned": 1, ...},
     "results": [{"header": {"similarity": "92.58", "thumbnail": "https://img1.saucenao.com/...",
                             "index_id": 5, "index_name": "Index #5: Pixiv Images - 1_p0.png",
                             "hidden": 0},
                  "data": {"ext_urls": ["https://www.pixiv.net/artworks/1"], "title": "...",
                           "member_name": "an artist", "source": "..."}}]}

``header.status`` is 0 on success, above 0 for a failure on SauceNAO's side
and below 0 for one on ours (a bad image, a bad parameter). Numbers arrive as
numbers or as strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from img2img.models import ImageCandidate
from img2img.provenance import domain_of
from img2img.sources.fields import compact, http_url, number, text

__all__ = ["SauceQuota", "candidate_from_result", "quota_of"]

_INDEX_PREFIX = re.compile(r"^Index #\d+:\s*")


@dataclass(frozen=True, slots=True)
class SauceQuota:
    """Searches left in the 30-second window (``short``) and today (``long``)."""

    short: int | None
    long: int | None


def quota_of(header: Mapping[str, Any]) -> SauceQuota:
    short, long = number(header.get("short_remaining")), number(header.get("long_remaining"))
    return SauceQuota(
        int(short) if short is not None else None, int(long) if long is not None else None
    )


def _site(index_name: str | None) -> str | None:
    """``"Index #5: Pixiv Images - 1_p0.png"`` -> ``"Pixiv Images"``."""
    if index_name is None:
        return None
    return _INDEX_PREFIX.sub("", index_name).split(" - ", 1)[0].strip() or None


def candidate_from_result(result: Mapping[str, Any], rank: int) -> ImageCandidate | None:
    """One result: SauceNAO's thumbnail to verify, the first ``ext_url`` as the page.

    The other ``ext_urls`` (the same work on other sites) go to ``extra`` as
    ``other_pages``. ``None`` without an ``http(s)`` thumbnail.
    """
    header = result.get("header")
    data = result.get("data")
    if not isinstance(header, Mapping):
        return None
    if not isinstance(data, Mapping):
        data = {}
    thumbnail = http_url(header.get("thumbnail"))
    if thumbnail is None:
        return None
    raw_pages = data.get("ext_urls")
    pages = [url for url in map(http_url, raw_pages if isinstance(raw_pages, list) else []) if url]
    page = pages[0] if pages else None
    index_name = text(header.get("index_name"))
    return ImageCandidate(
        image_url=thumbnail,
        page_url=page,
        title=text(data.get("title")) or text(data.get("material")),
        domain=domain_of(page) or domain_of(thumbnail),
        thumbnail_url=thumbnail,
        position=rank,
        extra=compact(
            {
                "found_by": "saucenao",
                "saucenao_similarity": number(header.get("similarity")),
                "saucenao_index": _site(index_name),
                "saucenao_index_id": number(header.get("index_id")),
                "artist": text(data.get("member_name")) or text(data.get("creator_name")),
                "work_source": http_url(data.get("source")),
                "other_pages": pages[1:] or None,
            }
        ),
    )
