"""SauceNaoSource: where artwork comes from, through SauceNAO's JSON API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import httpx

from img2img.arguments import check_timeout, check_whole
from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    QuotaExhaustedError,
    RateLimitError,
    ServiceError,
)
from img2img.loading import ImageInput
from img2img.models import ImageCandidate, MatchKind, UploadedImage
from img2img.net.api_client import ApiClient, ApiReply, RateLimit
from img2img.net.retry import RetryPolicy
from img2img.options import Option, OptionValues, require_env
from img2img.sources.fields import text
from img2img.sources.reverse_parts import HeldUploads, Quota, read_claims
from img2img.sources.saucenao.results import SauceQuota, candidate_from_result, quota_of
from img2img.sources.settings import required_setting, service_url

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "DEFAULT_BASE_URL", "SauceNaoSource"]

API_KEY_ENV = "SAUCENAO_API_KEY"
BASE_URL_ENV = "SAUCENAO_BASE_URL"
DEFAULT_BASE_URL = "https://saucenao.com"
#: The window ``short_remaining`` counts in.
SHORT_WINDOW_SECONDS = 30.0
DAY_SECONDS = 86_400.0
MAX_UPLOAD_BYTES = 15_000_000
# One retry at most: a 429 means a spent window, and waiting is done here by the quota.
DEFAULT_RETRY = RetryPolicy(attempts=2, base_delay=2.0, max_delay=35.0)
KEY_HELP = (
    f"set the {API_KEY_ENV} environment variable or pass SauceNaoSource(api_key=...); "
    "find your key at https://saucenao.com/user.php?page=search-api"
)


class SauceNaoSource:
    """A :class:`~img2img.protocols.ReverseImageSource` over SauceNAO: the engine for artwork.

    SauceNAO indexes the art sites (Pixiv, DeviantArt, Danbooru, Gelbooru,
    Twitter and other art accounts, manga and anime databases), where
    illustrations posted on Patreon or Discord resurface. Each result names
    the work's pages (``ext_urls``) and SauceNAO's thumbnail of it, which is
    what ``locate`` downloads and verifies. Photos are better asked of the
    other engines.

    Args:
        api_key: your SauceNAO key; defaults to ``SAUCENAO_API_KEY``. It goes
            in the form body of a ``POST``, never in a URL.
        numres: results asked for per search (SauceNAO's ``numres``).
        db: the index to search (999, the default, is all of them).
        dbmask: a bit mask of indexes to search instead of ``db``.
        minsim: the least similarity (0-100) a result needs to be returned.
        timeout, retry: per request.
        base_url: defaults to ``SAUCENAO_BASE_URL``, else
            ``https://saucenao.com``; tests point it at
            :class:`img2img.testing.fake_saucenao.FakeSauceNao`.
        sleep, clock: how to wait and read the time (tests pass fakes).

    Quotas are small (a free key has 4 searches per 30 seconds and 100 a
    day; paid ones more): every reply says what is left. When the 30-second
    window is spent the next search waits for it; when the day's searches are
    spent, a lookup raises :class:`~img2img.errors.QuotaExhaustedError`
    without sending anything. ``quota()`` returns the day's searches left as
    last reported.
    """

    name: ClassVar[str] = "saucenao"
    key_env: ClassVar[str] = API_KEY_ENV
    kinds: ClassVar[tuple[MatchKind, ...]] = ("exact",)
    command_title: ClassVar[str] = "SauceNAO (artwork)"
    command_note: ClassVar[str] = f"needs {API_KEY_ENV}"
    command_options: ClassVar[tuple[Option, ...]] = (
        Option("saucenao-minsim", "the least similarity (0-100) a result needs", type=float),
        Option("saucenao-db", "the SauceNAO index to search (999: all)", type=int),
    )

    @classmethod
    def from_options(cls, values: OptionValues) -> SauceNaoSource:
        """The engine ``img2img locate --engine saucenao`` builds."""
        require_env(API_KEY_ENV, "locate --engine saucenao needs a SauceNAO key", f"({KEY_HELP})")
        db = values.get("saucenao_db")
        return cls(minsim=values.get("saucenao_minsim"), db=999 if db is None else db)

    def __init__(
        self,
        api_key: str | None = None,
        *,
        numres: int = 16,
        db: int = 999,
        dbmask: int | None = None,
        minsim: float | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params: dict[str, str] = {
            "output_type": "2",
            "numres": str(check_whole("numres", numres)),
        }
        if dbmask is not None:
            self.params["dbmask"] = str(check_whole("dbmask", dbmask))
        else:
            self.params["db"] = str(check_whole("db", db, least=0))
        if minsim is not None:
            if not 0 <= minsim <= 100:
                raise ConfigurationError(f"minsim must be between 0 and 100, got {minsim!r}")
            self.params["minsim"] = f"{minsim:g}"
        self.timeout = check_timeout(timeout)
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._api_key = api_key
        self._sleep = sleep
        self._clock = clock
        self._held = HeldUploads(MAX_UPLOAD_BYTES)
        self._lock = threading.Lock()
        self._last = SauceQuota(None, None)
        self._window_ends = float("-inf")

    def __repr__(self) -> str:
        return f"SauceNaoSource(params={self.params!r}, base_url={self.base_url!r})"

    def upload(self, data: bytes) -> UploadedImage:
        """Hold a local image (encoded bytes); it is sent as ``file`` with the search."""
        return self._held.upload(data, engine="SauceNAO")

    def quota(self) -> Quota:
        """The day's searches left, as the last reply said (unknown before the first)."""
        return Quota(self._last.long, "today")

    def lookup(
        self, image: ImageInput | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` works SauceNAO matched with ``image``, most similar first."""
        if kind != "exact":
            raise ConfigurationError(
                f"SauceNAO finds the sources of one picture: kind must be 'exact', got {kind!r}"
            )
        key = required_setting(
            self._api_key, API_KEY_ENV, f"SauceNaoSource needs a key: {KEY_HELP}"
        )
        query = self._held.query(image, engine="SauceNAO")
        return self._results(key, query, limit)

    def _wait_for_quota(self) -> None:
        with self._lock:
            last, ends = self._last, self._window_ends
        if last.long == 0:
            raise QuotaExhaustedError(
                "SauceNAO: today's searches are spent; they come back within 24 hours"
            )
        if last.short == 0:
            wait = ends - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _results(self, key: str, query: str | bytes, limit: int) -> Iterator[ImageCandidate]:
        if limit <= 0:
            return
        self._wait_for_quota()
        form = {**self.params, "api_key": key}
        try:
            reply = self._send(key, form, query)
        except RateLimitError as exc:
            if self._last.long == 0:
                raise QuotaExhaustedError(
                    "SauceNAO: today's searches are spent; they come back within 24 hours",
                    status_code=exc.status_code,
                ) from exc
            raise
        payload = self._checked(reply)
        results = payload.get("results")
        yield from read_claims(results, candidate_from_result, limit)

    def _limits(self, response: httpx.Response, payload: Any) -> RateLimit:
        """Every reply, a 429 included, says what is left: keep it for the next lookup."""
        header = payload.get("header") if isinstance(payload, Mapping) else None
        if not isinstance(header, Mapping):
            return RateLimit()
        quota = quota_of(header)
        with self._lock:
            self._last = quota
            self._window_ends = self._clock() + SHORT_WINDOW_SECONDS
        if quota.long == 0:  # a day to wait: longer than any retry policy, so none is tried
            return RateLimit(remaining=0, retry_after=DAY_SECONDS)
        spent = quota.short == 0
        return RateLimit(remaining=quota.short, reset_after=SHORT_WINDOW_SECONDS if spent else None)

    def _send(self, key: str, form: dict[str, str], query: str | bytes) -> ApiReply:
        with ApiClient(
            service="SauceNAO",
            base_url=self.base_url,
            headers={"Accept": "application/json"},
            timeout=self.timeout,
            retry=self.retry,
            limits=self._limits,
            secrets=(key,),
            sleep=self._sleep,
        ) as client:
            if isinstance(query, bytes):
                files = {"file": ("image", query, "application/octet-stream")}
                reply = client.request("POST", "/search.php", form=form, files=files)
            else:
                # A form body, as the upload: the key stays out of the URL either way.
                reply = client.request("POST", "/search.php", form={**form, "url": query})
        return reply

    def _checked(self, reply: ApiReply) -> Mapping[str, Any]:
        payload = reply.payload
        header = payload.get("header") if isinstance(payload, Mapping) else None
        message = text(header.get("message")) if isinstance(header, Mapping) else None
        words = message or f"HTTP {reply.status}"
        if reply.status in (401, 403):
            raise AuthenticationError(
                f"SauceNAO refused the key ({words}): {KEY_HELP}", status_code=reply.status
            )
        if not isinstance(payload, Mapping) or not isinstance(header, Mapping):
            raise ServiceError(
                "SauceNAO failed: a reply that is not its JSON", status_code=reply.status
            )
        status = header.get("status")
        if reply.status >= 400 or (isinstance(status, int) and status != 0):
            side = "SauceNAO" if not isinstance(status, int) or status > 0 else "the request"
            raise ServiceError(f"SauceNAO failed ({side}): {words}", status_code=reply.status)
        return payload
