"""GoogleLensSource: pages that show an image, through SerpAPI's ``google_lens`` engine."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from img2img.arguments import check_timeout
from img2img.errors import ConfigurationError
from img2img.loading import ImageInput
from img2img.models import ImageCandidate, MatchKind, MetadataValue, UploadedImage
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionValues, require_env
from img2img.protocols import ImageUploader
from img2img.provenance import domain_of
from img2img.sources.fields import http_url, positive_int, text
from img2img.sources.reverse_parts import read_claims, remote_or_bytes
from img2img.sources.serpapi.google_images import BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_RETRY
from img2img.sources.serpapi.http import API_KEY_ENV, SearchCall, resolve_key
from img2img.sources.serpapi.upload import SerpApiImageUploader
from img2img.sources.settings import service_url
from img2img.sources.sites import host_like

__all__ = ["LENS_TYPES", "GoogleLensSource", "candidate_from_lens_result"]

#: The ``type`` parameter and the response key for each kind of match.
LENS_TYPES: Mapping[str, str] = {"exact": "exact_matches", "similar": "visual_matches"}
#: Live exact-match searches have taken about 20 s; leave room.
DEFAULT_TIMEOUT = 60.0
_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%Y-%m-%d")


def _iso_date(value: str) -> str | None:
    """``"Jan 3, 2020"`` as ``"2020-01-03"``; ``None`` for relative dates (``"2 years ago"``)."""
    for pattern in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    return None


def _price(value: object, extra: dict[str, MetadataValue]) -> None:
    if isinstance(value, Mapping):
        label = text(value.get("value"))
        amount = value.get("extracted_value")
        currency = text(value.get("currency"))
        if label:
            extra["price"] = label
        if isinstance(amount, (int, float)) and not isinstance(amount, bool):
            extra["price_value"] = float(amount)
        if currency:
            extra["price_currency"] = currency
    elif text(value):
        extra["price"] = str(text(value))


def candidate_from_lens_result(
    result: Mapping[str, Any], *, lens_type: str, rank: int
) -> ImageCandidate | None:
    """Map one ``exact_matches`` or ``visual_matches`` entry; ``None`` without a usable image.

    The image is ``image`` (the picture on the page) or, when that is missing
    or not ``http(s)``, ``thumbnail`` (for exact matches a copy SerpAPI hosts).
    ``link`` is the page, its host the domain (``source`` is a site's name,
    ``"Reddit"``, used only when ``link`` has no host). Sizes are the image's
    (``image_width``/``image_height``, or ``actual_image_width``/``_height``
    for exact matches); when the thumbnail stands in, its own size is used and
    the original's goes to ``extra``. ``extra`` records how it was found:
    ``found_by="google_lens"``, ``lens_type``, ``lens_position``, and when
    given ``source_name``, ``lens_date`` (as Google wrote it) with
    ``lens_date_iso`` for absolute dates, ``price``, ``price_value``,
    ``price_currency`` and ``in_stock``.
    """
    image = http_url(result.get("image"))
    thumbnail = http_url(result.get("thumbnail"))
    image_url = image or thumbnail
    if image_url is None:
        return None
    page_url = http_url(result.get("link"))
    source = text(result.get("source"))
    original_width = positive_int(result.get("image_width")) or positive_int(
        result.get("actual_image_width")
    )
    original_height = positive_int(result.get("image_height")) or positive_int(
        result.get("actual_image_height")
    )
    position = positive_int(result.get("position")) or rank
    extra: dict[str, MetadataValue] = {
        "found_by": "google_lens",
        "lens_type": lens_type,
        "lens_position": position,
    }
    if source:
        extra["source_name"] = source
    date = text(result.get("date"))
    if date:
        extra["lens_date"] = date
        iso = _iso_date(date)
        if iso:
            extra["lens_date_iso"] = iso
    _price(result.get("price"), extra)
    if isinstance(result.get("in_stock"), bool):
        extra["in_stock"] = result["in_stock"]
    width, height = original_width, original_height
    if image is None:
        # The sizes describe the picture on the page, not the thumbnail standing in for it.
        if original_width and original_height:
            extra.update({"original_width": original_width, "original_height": original_height})
        width, height = (
            positive_int(result.get("thumbnail_width")),
            positive_int(result.get("thumbnail_height")),
        )
    return ImageCandidate(
        image_url=image_url,
        page_url=page_url,
        title=text(result.get("title")),
        domain=domain_of(page_url) or host_like(source) or domain_of(image_url),
        thumbnail_url=thumbnail,
        width=width,
        height=height,
        position=rank,
        extra=extra,
    )


class GoogleLensSource:
    """A :class:`~img2img.protocols.ReverseImageSource` over Google Lens, through SerpAPI.

    Args:
        api_key: your SerpAPI key; defaults to the ``SERPAPI_API_KEY``
            environment variable, read when ``lookup`` or ``upload`` is called.
        q: words that refine a ``similar`` search (``q``); Lens takes none
            for exact matches, so they are not sent with those.
        language: interface language code (``hl``), e.g. ``"en"``.
        country: two-letter country code (``country``), e.g. ``"fr"``.
        no_cache: ``True`` makes SerpAPI search again (and charge) even when
            it holds the same search from the last hour.
        timeout: seconds to wait for one answer (Lens can take 20 s).
        retry: tries and waits for 429s, 5xx and network failures.
        uploader: how a local image reaches Lens; by default
            :class:`SerpApiImageUploader` with this source's key and address.
            Any :class:`~img2img.protocols.ImageUploader` fits, e.g. one that
            puts the image at a URL you control.
        base_url: where SerpAPI is; defaults to ``SERPAPI_BASE_URL``, else
            ``https://serpapi.com``. Tests point it at
            :class:`img2img.testing.fake_serpapi.FakeSerpApi`.
        sleep: how to wait between retries (tests pass a recorder).

    Each ``lookup`` is one SerpAPI search (one credit, unless served from
    SerpAPI's one-hour cache), sent when the first candidate is asked for.
    """

    name: ClassVar[str] = "lens"
    key_env: ClassVar[str] = API_KEY_ENV
    kinds: ClassVar[tuple[MatchKind, ...]] = ("exact", "similar")

    command_title = "Google Lens"
    command_note = "needs SERPAPI_API_KEY"
    command_options = (
        Option("country", "Google country code, e.g. fr", metavar="CC"),
        Option("language", "Google interface language, e.g. en", metavar="LANG"),
        Option(
            "no-cache",
            "make SerpAPI search again rather than answer from its one-hour cache (costs a credit)",
            flag=True,
        ),
    )

    @classmethod
    def from_options(cls, values: OptionValues) -> GoogleLensSource:
        """The engine ``img2img locate --engine lens`` builds; ``SERPAPI_BASE_URL``,
        if set, is read by the source itself."""
        require_env(
            API_KEY_ENV,
            "locate asks Google Lens through SerpAPI",
            "(your key is at https://serpapi.com/manage-api-key)",
        )
        return cls(
            country=values.get("country"),
            language=values.get("language"),
            no_cache=bool(values.get("no_cache")),
        )

    def __init__(
        self,
        api_key: str | None = None,
        *,
        q: str | None = None,
        language: str | None = None,
        country: str | None = None,
        no_cache: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        uploader: ImageUploader | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = check_timeout(timeout)
        params: dict[str, str] = {}
        if language:
            params["hl"] = language.strip()
        if country:
            params["country"] = country.strip().lower()
        if no_cache:
            params["no_cache"] = "true"
        self.params = params
        self.q = " ".join(q.split()) if q else None
        self._api_key = api_key
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._sleep = sleep
        self.uploader: ImageUploader = uploader or SerpApiImageUploader(
            api_key, base_url=self.base_url, timeout=timeout, retry=self.retry, sleep=sleep
        )

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs.
        return (
            f"GoogleLensSource(q={self.q!r}, params={self.params!r}, "
            f"uploader={self.uploader!r}, base_url={self.base_url!r})"
        )

    def upload(self, data: bytes) -> UploadedImage:
        """Hand a local image (encoded bytes) to Lens through this source's uploader."""
        return self.uploader.upload(data)

    def lookup(
        self,
        image: ImageInput | UploadedImage,
        *,
        kind: MatchKind = "exact",
        limit: int = 100,
    ) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` pages Lens claims show ``image``, best first.

        ``image`` is an ``http(s)`` URL (sent to Lens as is), an
        :class:`~img2img.models.UploadedImage`, or a local image (a path,
        ``file://`` URL, bytes or PIL image), uploaded first. ``kind`` is
        ``"exact"`` (``type=exact_matches``) or ``"similar"``
        (``type=visual_matches``). The key and arguments are checked at once;
        the upload and the search happen when the first candidate is asked for.
        """
        if kind not in LENS_TYPES:
            raise ConfigurationError(f"kind must be 'exact' or 'similar', got {kind!r}")
        key = resolve_key(self._api_key, "GoogleLensSource")
        # A local image is read now, so a missing file fails here; it is uploaded lazily.
        query: str | UploadedImage | bytes = remote_or_bytes(image)
        call = SearchCall(
            base_url=self.base_url,
            api_key=key,
            timeout=self.timeout,
            retry=self.retry,
            sleep=self._sleep,
        )
        return self._results(call, query, LENS_TYPES[kind], limit)

    def _query(self, image: str | UploadedImage | bytes) -> dict[str, str]:
        if isinstance(image, bytes):
            image = self.upload(image)
        if isinstance(image, UploadedImage):
            return {"url": image.url} if image.url else {"image_id": str(image.upload_id)}
        return {"url": image}

    def _results(
        self, call: SearchCall, image: str | UploadedImage | bytes, lens_type: str, limit: int
    ) -> Iterator[ImageCandidate]:
        if limit <= 0:
            return
        params = {"engine": "google_lens", "type": lens_type, **self._query(image), **self.params}
        if self.q and lens_type != "exact_matches":
            params["q"] = self.q
        payload = call(params)
        results = payload.get(lens_type) if payload else None
        if not isinstance(results, list):
            return

        def read(entry: Mapping[str, Any], rank: int) -> ImageCandidate | None:
            return candidate_from_lens_result(entry, lens_type=lens_type, rank=rank)

        yield from read_claims(results, read, limit)
