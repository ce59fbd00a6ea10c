"""BingReverseImageSource: pages that show an image, through SerpAPI's ``bing_reverse_image``.

SerpAPI documents this engine's parameters (``image_url``, images of at most
4,000 px a side; ``mkt``; crop ``cat``/``cal``/``car``/``cab``; ``no_cache``)
but gives no field list for its reply, only an example JSON. What is read here
is what that example shows: ``pages_including`` (pages that carry the image)
and ``related_content`` (alike images), each entry with ``link`` (the page),
``title``, ``thumbnail`` and the image itself as ``original`` (a URL, or an
object with ``link``, ``width`` and ``height``), and sometimes ``date``. A
field missing from a reply is left out, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from img2img.models import ImageCandidate
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionValues, require_env
from img2img.protocols import ImageUploader
from img2img.provenance import domain_of
from img2img.sources.fields import compact, http_url, iso_day, positive_int, text
from img2img.sources.serpapi.http import API_KEY_ENV
from img2img.sources.serpapi.reverse_image import EngineSpec, SerpApiReverseSource

__all__ = ["BingReverseImageSource", "candidate_from_bing_entry"]


def candidate_from_bing_entry(entry: Mapping[str, Any], rank: int) -> ImageCandidate | None:
    """One ``pages_including`` or ``related_content`` entry; ``None`` without an image."""
    original = entry.get("original")
    width = height = None
    if isinstance(original, Mapping):
        width, height = positive_int(original.get("width")), positive_int(original.get("height"))
        original = original.get("link")
    thumbnail = http_url(entry.get("thumbnail"))
    image = http_url(original) or http_url(entry.get("image")) or thumbnail
    if image is None:
        return None
    page = http_url(entry.get("link"))
    return ImageCandidate(
        image_url=image,
        page_url=page,
        title=text(entry.get("title")),
        domain=domain_of(page) or text(entry.get("domain")) or domain_of(image),
        thumbnail_url=thumbnail,
        width=width,
        height=height,
        position=rank,
        extra=compact(
            {
                "found_by": "bing",
                "bing_position": rank,
                "first_seen_date": iso_day(entry.get("date")),
            }
        ),
    )


BING = EngineSpec(
    engine="bing_reverse_image",
    label="Bing reverse image search",
    keys={
        "exact": ("pages_including", candidate_from_bing_entry),
        "similar": ("related_content", candidate_from_bing_entry),
    },
    max_side=4000,
)


class BingReverseImageSource(SerpApiReverseSource):
    """Bing Visual Search through SerpAPI: Bing's own crawl, beside Google's.

    ``kind="exact"`` reads the pages that include the image, ``"similar"``
    Bing's related images; each is one SerpAPI search. ``market`` is Bing's
    ``mkt`` (``"en-US"``). The rest is as :class:`SerpApiReverseSource`.
    Bing's own Visual Search API was retired in 2025; SerpAPI is the route.
    """

    name = "bing"
    command_title = "Bing (through SerpAPI)"
    command_note = "needs SERPAPI_API_KEY"
    command_options = (Option("market", "Bing market, e.g. en-US", metavar="MKT"),)

    @classmethod
    def from_options(cls, values: OptionValues) -> BingReverseImageSource:
        """The engine ``img2img locate --engine bing`` builds."""
        require_env(API_KEY_ENV, "locate --engine bing asks Bing through SerpAPI")
        return cls(market=values.get("market"))

    def __init__(
        self,
        api_key: str | None = None,
        *,
        market: str | None = None,
        no_cache: bool = False,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        uploader: ImageUploader | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            BING,
            api_key,
            params={"mkt": market} if market else None,
            no_cache=no_cache,
            timeout=timeout,
            retry=retry,
            uploader=uploader,
            base_url=base_url,
            **options,
        )
