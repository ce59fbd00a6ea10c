"""SerpApiSource: Google Images results through SerpAPI's ``google_images`` engine."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from img2img.arguments import check_timeout
from img2img.errors import ConfigurationError
from img2img.models import ImageCandidate, MetadataValue
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionError, OptionValues, require_env
from img2img.provenance import domain_of, normalise_url
from img2img.sources.fields import http_url as _http_url
from img2img.sources.fields import positive_int as _size
from img2img.sources.fields import text as _text
from img2img.sources.serpapi.http import API_KEY_ENV, SearchCall, resolve_key
from img2img.sources.settings import service_url
from img2img.sources.sites import SOCIAL_MEDIA_SITES
from img2img.sources.sites import clean_site as _clean_site
from img2img.sources.sites import host_like as _host_like

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_RETRY",
    "PAGE_SIZE",
    "SOCIAL_MEDIA_SITES",
    "SerpApiSource",
    "build_query",
    "candidate_from_result",
]

DEFAULT_BASE_URL = "https://serpapi.com"
#: Where SerpAPI is when ``base_url`` is not given: a gateway, say.
BASE_URL_ENV = "SERPAPI_BASE_URL"
#: Results on one ``google_images`` page; ``ijn`` numbers the pages from 0.
PAGE_SIZE = 100
#: Pages fetched beyond ``limit / PAGE_SIZE`` to make up for dropped duplicates.
_SPARE_PAGES = 2
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=30.0)
# Set by the source itself; a caller's ``params`` may not override them.
_RESERVED_PARAMS = frozenset({"engine", "q", "ijn", "api_key", "output", "source"})


def build_query(
    keyphrase: str, *, sites: Sequence[str] = (), exclude_sites: Sequence[str] = ()
) -> str:
    """The Google query: ``keyphrase`` restricted with ``site:`` operators.

    ``build_query("cat", sites=["instagram.com", "x.com"])`` gives
    ``"cat (site:instagram.com OR site:x.com)"``.
    """
    query = " ".join(keyphrase.split())
    include = [f"site:{_clean_site(site)}" for site in sites]
    if len(include) == 1:
        query += f" {include[0]}"
    elif include:
        query += " (" + " OR ".join(include) + ")"
    for site in exclude_sites:
        query += f" -site:{_clean_site(site)}"
    return query


def candidate_from_result(result: Mapping[str, Any], *, rank: int) -> ImageCandidate | None:
    """Map one ``images_results`` entry to a candidate, or ``None`` if it has no usable image.

    The image is ``original``, or ``thumbnail`` when that is missing or not
    ``http(s)`` (the original's size then goes to ``extra``, since it is not
    the thumbnail's); ``link`` is the page holding the image; the domain is
    ``source`` when it is a host name, else the host of ``link``. ``rank`` is
    the 1-based place of the result across all pages of the search.
    """
    thumbnail = _http_url(result.get("thumbnail"))
    original = _http_url(result.get("original"))
    image_url = original or thumbnail
    if image_url is None:
        return None
    width, height = _size(result.get("original_width")), _size(result.get("original_height"))
    page_url = _http_url(result.get("link"))
    source = _text(result.get("source"))
    extra: dict[str, MetadataValue] = {}
    if source:
        extra["source_name"] = source
    for key in ("is_product", "in_stock"):
        if isinstance(result.get(key), bool):
            extra[key] = result[key]
    tag = _text(result.get("tag"))
    if tag:
        extra["tag"] = tag
    if original is None:
        # The sizes describe the original, not the thumbnail that stands in for it.
        if width and height:
            extra.update({"original_width": width, "original_height": height})
        width = height = None
    return ImageCandidate(
        image_url=image_url,
        page_url=page_url,
        title=_text(result.get("title")),
        domain=_host_like(source) or domain_of(page_url) or domain_of(image_url),
        thumbnail_url=thumbnail,
        width=width,
        height=height,
        position=rank,
        extra=extra,
    )


def _says_last_page(payload: Mapping[str, Any] | None) -> bool:
    """True only when the page carries a pagination block without a next page."""
    pagination = payload.get("serpapi_pagination") if payload else None
    return isinstance(pagination, Mapping) and not pagination.get("next")


class SerpApiSource:
    """An ``ImageSource`` over Google Images, through SerpAPI.

    Args:
        api_key: your SerpAPI key; defaults to the ``SERPAPI_API_KEY``
            environment variable, read when ``discover`` is called.
        sites: only images on these sites (``site:`` operators joined with
            ``OR``), e.g. ``SOCIAL_MEDIA_SITES``.
        exclude_sites: never images on these sites (``-site:``).
        safe_search: ``True`` filters explicit results (``safe=active``),
            ``False`` turns the filter off, ``None`` keeps Google's default.
        country: two-letter country code for Google (``gl``), e.g. ``"fr"``.
        language: interface language code (``hl``), e.g. ``"en"``.
        params: further SerpAPI ``google_images`` parameters sent as given,
            e.g. ``{"tbs": "itp:photo", "google_domain": "google.fr"}``.
        timeout: seconds to wait for one SerpAPI response.
        retry: tries and waits for 429s, 5xx and network failures (default
            4 tries, waits of about 1, 2 and 4 s; a ``Retry-After`` is obeyed,
            unless it is over 30 s, which ends the retries at once).
        base_url: where the SerpAPI service is; defaults to ``SERPAPI_BASE_URL``
            (a gateway), else ``https://serpapi.com``. Tests point it at
            :class:`img2img.testing.fake_serpapi.FakeSerpApi`.
        sleep: how to wait between retries (tests pass a recorder).

    ``discover`` pages through results 100 at a time (``ijn`` = 0, 1, 2 …),
    lazily: a caller that stops early sends no more searches. It stops at the
    end of the results, drops duplicate and non-``http(s)`` image URLs, and
    raises :class:`~img2img.errors.AuthenticationError` for a bad key,
    :class:`~img2img.errors.RateLimitError` or
    :class:`~img2img.errors.ServiceUnavailableError` when retries run out.
    """

    command_title = "Google Images"
    command_note = "needs SERPAPI_API_KEY"
    command_options = (
        Option("site", "only images on this site; repeatable", metavar="SITE", repeatable=True),
        Option("country", "Google country code, e.g. fr", metavar="CC"),
        Option("language", "Google interface language, e.g. en", metavar="LANG"),
    )

    @classmethod
    def from_options(cls, values: OptionValues, *, keyphrase: str) -> SerpApiSource:
        """The source ``img2img index --source google`` builds from its options."""
        if not keyphrase.strip():
            raise OptionError("--source google needs a KEYPHRASE to search for")
        require_env(
            API_KEY_ENV,
            "index searches Google Images through SerpAPI",
            "(your key is at https://serpapi.com/manage-api-key)",
        )
        return cls(
            sites=values.get("site", ()),
            country=values.get("country"),
            language=values.get("language"),
        )

    def __init__(
        self,
        api_key: str | None = None,
        *,
        sites: Sequence[str] = (),
        exclude_sites: Sequence[str] = (),
        safe_search: bool | None = None,
        country: str | None = None,
        language: str | None = None,
        params: Mapping[str, str | int] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(sites, str) or isinstance(exclude_sites, str):
            raise ConfigurationError("sites and exclude_sites take a list of sites, not a string")
        self.sites = tuple(_clean_site(site) for site in sites)
        self.exclude_sites = tuple(_clean_site(site) for site in exclude_sites)
        self.timeout = check_timeout(timeout)
        extra = {str(key): str(value) for key, value in (params or {}).items()}
        clash = sorted(_RESERVED_PARAMS & extra.keys())
        if clash:
            raise ConfigurationError(f"SerpApiSource sets {', '.join(clash)} itself")
        if safe_search is not None:
            extra["safe"] = "active" if safe_search else "off"
        if country:
            extra["gl"] = country.strip().lower()
        if language:
            extra["hl"] = language.strip()
        self.params: dict[str, str] = extra
        self._api_key = api_key
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._sleep = sleep

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs.
        return (
            f"SerpApiSource(sites={list(self.sites)!r}, params={self.params!r}, "
            f"base_url={self.base_url!r})"
        )

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` distinct images for ``keyphrase``, best ranked first.

        Checks the key and the keyphrase at once (raising
        :class:`~img2img.errors.ConfigurationError`), before any search is sent.
        """
        if not keyphrase.strip():
            raise ConfigurationError("keyphrase is empty")
        call = SearchCall(
            base_url=self.base_url,
            api_key=resolve_key(self._api_key, "SerpApiSource"),
            timeout=self.timeout,
            retry=self.retry,
            sleep=self._sleep,
        )
        query = build_query(keyphrase, sites=self.sites, exclude_sites=self.exclude_sites)
        return self._pages(call, query, limit)

    def _pages(self, call: SearchCall, query: str, limit: int) -> Iterator[ImageCandidate]:
        seen: set[str] = set()
        rank = 0
        max_pages = math.ceil(limit / PAGE_SIZE) + _SPARE_PAGES
        for page in range(max_pages if limit > 0 else 0):
            payload = call({"engine": "google_images", "q": query, "ijn": str(page), **self.params})
            results = payload.get("images_results") if payload else None
            if not isinstance(results, list) or not results:
                return
            fresh = 0
            for result in results:
                rank += 1
                if not isinstance(result, Mapping):
                    continue
                candidate = candidate_from_result(result, rank=rank)
                if candidate is None:
                    continue
                key = normalise_url(candidate.image_url)
                if key in seen:
                    continue
                seen.add(key)
                fresh += 1
                yield candidate
                if len(seen) >= limit:
                    return
            # A short page is the last one; a page of nothing new means the
            # service is repeating itself and more pages would only cost searches.
            # A full page asks for the next one unless the pagination block says
            # there is none: the block is sometimes missing, and SerpAPI's own
            # examples page on ijn until the "no results" answer.
            if len(results) < PAGE_SIZE or fresh == 0 or _says_last_page(payload):
                return
