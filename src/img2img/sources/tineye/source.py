"""TinEyeSource: where a picture is posted, with the day TinEye first saw each page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Literal

from img2img.arguments import check_timeout
from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    QuotaExhaustedError,
    ServiceError,
)
from img2img.loading import ImageInput
from img2img.models import ImageCandidate, MatchKind, UploadedImage
from img2img.net.api_client import ApiClient, ApiReply
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionValues, require_env
from img2img.provenance import normalise_url
from img2img.sources.reverse_parts import HeldUploads, Quota
from img2img.sources.settings import required_setting, service_url
from img2img.sources.tineye.matches import candidates_from_match

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "DEFAULT_BASE_URL", "TinEyeSource"]

API_KEY_ENV = "TINEYE_API_KEY"
BASE_URL_ENV = "TINEYE_BASE_URL"
DEFAULT_BASE_URL = "https://api.tineye.com/rest"
#: Matches a search returns at most (TinEye's own cap on ``limit``).
MAX_MATCHES = 100
#: TinEye takes uploads of up to 20 MB.
MAX_UPLOAD_BYTES = 20_000_000
DEFAULT_RETRY = RetryPolicy(attempts=3, base_delay=2.0, max_delay=60.0)
KEY_HELP = (
    f"set the {API_KEY_ENV} environment variable or pass TinEyeSource(api_key=...); "
    "keys come with a search bundle at https://services.tineye.com/TinEyeAPI"
)
Sort = Literal["score", "size", "crawl_date"]
_SORTS = ("score", "size", "crawl_date")


def _messages(payload: Any) -> str:
    if isinstance(payload, Mapping):
        messages = payload.get("messages")
        if isinstance(messages, list):
            return "; ".join(str(m) for m in messages if isinstance(m, str))
    return ""


class TinEyeSource:
    """A :class:`~img2img.protocols.ReverseImageSource` over TinEye's REST API.

    TinEye keeps its own crawl of the web and the day it first saw each page
    (``crawl_date``): the oldest posting of a picture is its likely source.
    It finds copies of the same picture (resized, cropped, recoloured), not
    alike pictures, so it answers ``kind="exact"`` only.

    Args:
        api_key: your TinEye API key; defaults to ``TINEYE_API_KEY``, read
            when a search is sent. It travels in the ``x-api-key`` header.
        sort: ``score`` (default), ``size`` or ``crawl_date``.
        order: ``desc`` (default) or ``asc``: ``sort="crawl_date",
            order="asc"`` puts the earliest postings first.
        backlink_limit: backlinks (postings) returned per matched image.
        domain: only matches on this domain.
        timeout, retry: per request; 429 and 5xx are retried.
        base_url: where the API is; defaults to ``TINEYE_BASE_URL``, else
            ``https://api.tineye.com/rest``. Tests point it at
            :class:`img2img.testing.fake_tineye.FakeTinEye`.
        sleep: how to wait between retries (tests pass a recorder).

    Each ``lookup`` is one search from your bundle. A local image is sent in
    the search request itself (a multipart ``image_upload``); ``upload`` only
    holds it here. Every backlink of every match becomes a candidate whose
    ``extra`` holds ``first_seen_date`` (TinEye's crawl date), ``tineye_score``
    and ``tineye_image_url`` (TinEye's copy). ``quota()`` asks the free
    ``remaining_searches`` call; :attr:`last_stats` keeps the last reply's totals.
    """

    name: ClassVar[str] = "tineye"
    key_env: ClassVar[str] = API_KEY_ENV
    kinds: ClassVar[tuple[MatchKind, ...]] = ("exact",)
    command_title: ClassVar[str] = "TinEye"
    command_note: ClassVar[str] = f"needs {API_KEY_ENV}"
    command_options: ClassVar[tuple[Option, ...]] = (
        Option(
            "tineye-sort",
            "order TinEye's matches by score, size or crawl_date (oldest first)",
            choices=_SORTS,
        ),
        Option("tineye-domain", "only matches on this domain", metavar="DOMAIN"),
    )

    @classmethod
    def from_options(cls, values: OptionValues) -> TinEyeSource:
        """The engine ``img2img locate --engine tineye`` builds."""
        require_env(API_KEY_ENV, "locate --engine tineye needs a TinEye key", f"({KEY_HELP})")
        sort: Sort = values.get("tineye_sort") or "score"
        return cls(
            sort=sort,
            order="asc" if sort == "crawl_date" else "desc",
            domain=values.get("tineye_domain"),
        )

    def __init__(
        self,
        api_key: str | None = None,
        *,
        sort: Sort = "score",
        order: Literal["asc", "desc"] = "desc",
        backlink_limit: int = 100,
        domain: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if sort not in _SORTS:
            raise ConfigurationError(f"sort must be one of {', '.join(_SORTS)}, got {sort!r}")
        if order not in ("asc", "desc"):
            raise ConfigurationError(f"order must be 'asc' or 'desc', got {order!r}")
        if isinstance(backlink_limit, bool) or not isinstance(backlink_limit, int):
            raise ConfigurationError(
                f"backlink_limit must be a whole number, got {backlink_limit!r}"
            )
        if backlink_limit < 1:
            raise ConfigurationError(f"backlink_limit must be at least 1, got {backlink_limit!r}")
        self.params: dict[str, str] = {
            "sort": sort,
            "order": order,
            "backlink_limit": str(backlink_limit),
        }
        if domain:
            self.params["domain"] = domain.strip().lower()
        self.timeout = check_timeout(timeout)
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._api_key = api_key
        self._sleep = sleep
        self._held = HeldUploads(MAX_UPLOAD_BYTES)
        #: ``stats`` of the last search reply (``total_results``, ``total_backlinks`` …).
        self.last_stats: dict[str, Any] = {}

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs.
        return f"TinEyeSource(params={self.params!r}, base_url={self.base_url!r})"

    def upload(self, data: bytes) -> UploadedImage:
        """Hold a local image (encoded bytes); it is sent with the search itself."""
        return self._held.upload(data, engine="TinEye")

    def lookup(
        self, image: ImageInput | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` postings TinEye claims show ``image``, best match first.

        The key and arguments are checked now; the search is sent when the
        first candidate is asked for.
        """
        if kind != "exact":
            raise ConfigurationError(
                f"TinEye finds copies of the same picture only: kind must be 'exact', got {kind!r}"
            )
        key = required_setting(self._api_key, API_KEY_ENV, f"TinEyeSource needs a key: {KEY_HELP}")
        query = self._held.query(image, engine="TinEye")
        return self._results(key, query, limit)

    def quota(self) -> Quota:
        """Searches left in your bundles (a free call that spends none)."""
        key = required_setting(self._api_key, API_KEY_ENV, f"TinEyeSource needs a key: {KEY_HELP}")
        with self._client(key) as client:
            reply = client.get("/remaining_searches/")
        payload = self._checked(reply)
        results = payload.get("results") if isinstance(payload, Mapping) else None
        left = results.get("total_remaining_searches") if isinstance(results, Mapping) else None
        if isinstance(left, int) and not isinstance(left, bool):
            return Quota(left, "in bundles")
        return Quota(None)

    def _client(self, key: str) -> ApiClient:
        return ApiClient(
            service="TinEye",
            base_url=self.base_url,
            headers={"x-api-key": key, "Accept": "application/json"},
            timeout=self.timeout,
            retry=self.retry,
            secrets=(key,),
            sleep=self._sleep,
        )

    def _results(self, key: str, query: str | bytes, limit: int) -> Iterator[ImageCandidate]:
        if limit <= 0:
            return
        params = {**self.params, "offset": "0", "limit": str(min(limit, MAX_MATCHES))}
        with self._client(key) as client:
            if isinstance(query, bytes):
                files = {"image_upload": ("image", query, "application/octet-stream")}
                reply = client.request("POST", "/search/", form=params, files=files)
            else:
                reply = client.get("/search/", params={**params, "image_url": query})
        payload = self._checked(reply)
        stats = payload.get("stats")
        self.last_stats = dict(stats) if isinstance(stats, Mapping) else {}
        results = payload.get("results")
        matches = results.get("matches") if isinstance(results, Mapping) else None
        if not isinstance(matches, list):
            return
        seen: set[str] = set()
        for rank, match in enumerate(matches, start=1):
            if not isinstance(match, Mapping):
                continue
            for candidate in candidates_from_match(match, rank=rank):
                url = normalise_url(candidate.image_url)
                if url in seen:
                    continue
                seen.add(url)
                yield candidate
                if len(seen) >= limit:
                    return

    @staticmethod
    def _checked(reply: ApiReply) -> Mapping[str, Any]:
        """The reply's body, or the error it stands for."""
        payload = reply.payload
        code = payload.get("code") if isinstance(payload, Mapping) else None
        status = code if isinstance(code, int) and code >= 400 else reply.status
        words = _messages(payload)
        if status in (401, 403):
            raise AuthenticationError(
                f"TinEye refused the key ({words or f'HTTP {status}'}): {KEY_HELP}",
                status_code=status,
            )
        if status == 402 or "no remaining searches" in words.lower():
            raise QuotaExhaustedError(
                f"TinEye: no searches left ({words or 'HTTP 402'}); buy a bundle or wait for "
                "the next one to start",
                status_code=status,
            )
        if status >= 400 or not isinstance(payload, Mapping):
            detail = words or ("a reply that is not JSON" if payload is None else f"HTTP {status}")
            raise ServiceError(f"TinEye failed: {detail}", status_code=status)
        return payload
