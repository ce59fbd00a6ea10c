"""GoogleReverseImageSource: Google's classic search by image, through SerpAPI.

SerpAPI's ``google_reverse_image`` engine takes ``image_url`` and answers with
``image_results`` (pages that include the image: ``position``, ``title``,
``link`` the page, ``displayed_link``, ``snippet``, sometimes ``date`` and a
``thumbnail``) and ``inline_images`` (alike images: ``link``, ``source`` the
page, ``thumbnail``, ``original`` the image, ``title``). SerpAPI shows these in
its example JSON rather than a field list; that is what is read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from img2img.models import ImageCandidate
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionValues, require_env
from img2img.protocols import ImageUploader
from img2img.provenance import domain_of
from img2img.sources.fields import compact, http_url, iso_day, text
from img2img.sources.serpapi.http import API_KEY_ENV
from img2img.sources.serpapi.reverse_image import EngineSpec, SerpApiReverseSource

__all__ = ["GoogleReverseImageSource", "candidate_from_image_result", "candidate_from_inline_image"]


def candidate_from_image_result(entry: Mapping[str, Any], rank: int) -> ImageCandidate | None:
    """A page that includes the image; its picture is the ``original`` or ``thumbnail`` shown."""
    image = http_url(entry.get("original")) or http_url(entry.get("thumbnail"))
    if image is None:
        return None
    page = http_url(entry.get("link"))
    return ImageCandidate(
        image_url=image,
        page_url=page,
        title=text(entry.get("title")),
        domain=domain_of(page) or domain_of(image),
        thumbnail_url=http_url(entry.get("thumbnail")),
        position=rank,
        extra=compact(
            {
                "found_by": "google_reverse",
                "snippet": text(entry.get("snippet")),
                "first_seen_date": iso_day(entry.get("date")),
            }
        ),
    )


def candidate_from_inline_image(entry: Mapping[str, Any], rank: int) -> ImageCandidate | None:
    """An alike image: ``original`` (else ``thumbnail``) on the page ``source`` (else ``link``)."""
    image = http_url(entry.get("original")) or http_url(entry.get("thumbnail"))
    if image is None:
        return None
    page = http_url(entry.get("source")) or http_url(entry.get("link"))
    return ImageCandidate(
        image_url=image,
        page_url=page,
        title=text(entry.get("title")),
        domain=domain_of(page) or domain_of(image),
        thumbnail_url=http_url(entry.get("thumbnail")),
        position=rank,
        extra={"found_by": "google_reverse"},
    )


GOOGLE_REVERSE = EngineSpec(
    engine="google_reverse_image",
    label="Google reverse image search",
    keys={
        "exact": ("image_results", candidate_from_image_result),
        "similar": ("inline_images", candidate_from_inline_image),
    },
)


class GoogleReverseImageSource(SerpApiReverseSource):
    """Google's search by image through SerpAPI (``engine=google_reverse_image``).

    Beside Lens, which is Google's newer reverse search, this one finds pages
    by Google's older image index. ``language`` is ``hl``, ``country`` ``gl``.
    The rest is as :class:`SerpApiReverseSource`.
    """

    name = "google_reverse"
    #: Lens already asks Google: this one is asked only by name.
    asked_by_default = False
    command_title = "Google reverse image search (through SerpAPI)"
    command_note = "needs SERPAPI_API_KEY"
    command_options = (
        Option("country", "Google country code, e.g. fr", metavar="CC"),
        Option("language", "Google interface language, e.g. en", metavar="LANG"),
    )

    @classmethod
    def from_options(cls, values: OptionValues) -> GoogleReverseImageSource:
        """The engine ``img2img locate --engine google_reverse`` builds."""
        require_env(API_KEY_ENV, "locate --engine google_reverse asks Google through SerpAPI")
        return cls(language=values.get("language"), country=values.get("country"))

    def __init__(
        self,
        api_key: str | None = None,
        *,
        language: str | None = None,
        country: str | None = None,
        no_cache: bool = False,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        uploader: ImageUploader | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> None:
        params = {"hl": language or "", "gl": (country or "").lower()}
        super().__init__(
            GOOGLE_REVERSE,
            api_key,
            params=params,
            no_cache=no_cache,
            timeout=timeout,
            retry=retry,
            uploader=uploader,
            base_url=base_url,
            **options,
        )
