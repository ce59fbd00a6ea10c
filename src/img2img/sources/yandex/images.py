"""Yandex's ``search_by_image`` reply as candidates.

The reply's shape, as the Yandex Cloud Search API reference gives it for REST
(``ImageSearch.SearchByImage``; 64-bit numbers travel as strings)::

    {"images": [{"url": "https://.../photo.jpg", "format": "IMAGE_FORMAT_JPEG",
                 "width": "1200", "height": "800", "passage": "text near the image",
                 "host": "example.org", "pageTitle": "A page", "pageUrl": "https://..."}],
     "page": "0", "maxPage": "4", "id": "<CBIR id of the query image>"}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from img2img.models import ImageCandidate
from img2img.provenance import domain_of
from img2img.sources.fields import compact, http_url, text

__all__ = ["candidate_from_image", "whole"]


def whole(value: object) -> int | None:
    """A non-negative whole number sent as a number or a string (``"1200"``), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def candidate_from_image(
    image: Mapping[str, Any], rank: int, *, page: int
) -> ImageCandidate | None:
    """One ``images[]`` entry; ``None`` without an ``http(s)`` image URL."""
    url = http_url(image.get("url"))
    if url is None:
        return None
    page_url = http_url(image.get("pageUrl"))
    width, height = whole(image.get("width")), whole(image.get("height"))
    return ImageCandidate(
        image_url=url,
        page_url=page_url,
        title=text(image.get("pageTitle")),
        domain=domain_of(page_url) or text(image.get("host")) or domain_of(url),
        width=width or None,
        height=height or None,
        position=rank,
        extra=compact(
            {
                "found_by": "yandex",
                "yandex_page": page,
                "yandex_position": rank,
                "passage": text(image.get("passage")),
                "image_format": text(image.get("format")),
            }
        ),
    )
