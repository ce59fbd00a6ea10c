"""One SerpAPI request: retries and error mapping, for searches and uploads alike.

Searches go through the ``serpapi`` client (package ``google-search-results``);
the image upload, which that client lacks, is a multipart ``POST`` through
``requests``, the client's own HTTP library. Either way the answer comes back
whatever its status, so the status and the ``{"error": "..."}`` body are read
here and turned into :mod:`img2img.errors`. Nothing from ``serpapi`` or ``requests``
leaks out, and the API key never appears in a message.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

from img2img.errors import (
    AuthenticationError,
    MissingDependencyError,
    QuotaExhaustedError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
)
from img2img.net.retry import Retryable, RetryPolicy, call_with_retries, parse_retry_after
from img2img.sources.settings import required_setting

__all__ = [
    "API_KEY_ENV",
    "KEY_HELP",
    "FormPost",
    "SearchCall",
    "is_no_results",
    "read_reply",
    "resolve_key",
]

#: Where a SerpAPI key comes from when none is passed.
API_KEY_ENV = "SERPAPI_API_KEY"
KEY_HELP = (
    f"set the {API_KEY_ENV} environment variable or pass api_key=... to the SerpAPI "
    "source; find your key at https://serpapi.com/manage-api-key"
)
_NO_RESULTS = "hasn't returned any results"
# Quota exhaustion comes as a 429 too, but waiting does not bring searches back.
_QUOTA_SPENT = "run out of searches"
#: The loggers through which ``requests`` (urllib3) writes request URLs.
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.connection")


def resolve_key(explicit: str | None, user: str) -> str:
    """``explicit``, else the ``SERPAPI_API_KEY`` variable; ``user`` names who needs it.

    Raises :class:`~img2img.errors.ConfigurationError` when neither is set.
    """
    return required_setting(explicit, API_KEY_ENV, f"{user} needs a SerpAPI key: {KEY_HELP}")


def is_no_results(message: str) -> bool:
    """Whether a SerpAPI error message means "the search ran and found nothing"."""
    return _NO_RESULTS in message.lower()


class _HideKeys(logging.Filter):
    """Masks ``api_key=...`` in what urllib3 logs: at DEBUG level it logs every
    request line, query string and so SerpAPI key included."""

    _KEY = re.compile(r"(api_key=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot be formatted is logging's own problem
            return True
        if "api_key=" in message:
            record.msg, record.args = self._KEY.sub(r"\1***", message), ()
        return True


def _hide_keys_in_logs() -> None:
    """Install :class:`_HideKeys` once on the urllib3 loggers that name request URLs."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideKeys) for f in logger.filters):
            logger.addFilter(_HideKeys())


def _search_class(base_url: str) -> Any:
    try:
        from serpapi import GoogleSearch
    except ImportError as exc:
        raise MissingDependencyError(
            "SerpApiSource needs the SerpAPI client: pip install google-search-results"
        ) from exc

    # A subclass per source, so pointing one source at a test server never
    # changes where another sends its searches.
    return type("_GoogleSearch", (GoogleSearch,), {"BACKEND": base_url.rstrip("/")})


def _scrub(exc: BaseException, secret: str) -> BaseException:
    """A copy of ``exc`` whose message no longer holds ``secret``.

    ``requests`` puts the full URL, query string and API key included, into
    its connection and timeout messages; chaining those would print the key
    in every traceback.
    """
    text = str(exc)
    if secret:
        text = text.replace(secret, "***").replace(quote_plus(secret), "***")
    try:
        clean: BaseException = type(exc)(text)
    except Exception:
        clean = RuntimeError(f"{type(exc).__name__}: {text}")
    return clean.with_traceback(exc.__traceback__)


class SearchCall:
    """Sends ``/search`` requests to ``base_url`` and returns the decoded JSON page.

    Returns ``None`` when SerpAPI says the search found nothing.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._search_class = _search_class(base_url)
        _hide_keys_in_logs()
        self._api_key = api_key
        self.timeout = timeout
        self.retry = retry
        self._sleep = sleep

    def __call__(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        return call_with_retries(lambda: self._once(params), self.retry, sleep=self._sleep)

    def _once(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        search = self._search_class({**params, "api_key": self._api_key, "output": "json"})
        # The client's default timeout is 60000 seconds; requests takes it as is.
        search.timeout = self.timeout
        response = _exchange(search.get_response, self._api_key, self.timeout)
        return read_reply(response.status_code, response.text, response.headers, self._api_key)


class FormPost:
    """Sends multipart ``POST`` requests to ``base_url + path``; returns the decoded JSON.

    The same retries, error mapping and key hiding as :class:`SearchCall`, for
    SerpAPI's endpoints that take a body (the image upload). The key travels
    in the form, never in the URL. Returns ``None`` for a "no results" message.
    """

    def __init__(
        self,
        *,
        base_url: str,
        path: str,
        api_key: str,
        timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = base_url.rstrip("/") + path
        self._api_key = api_key
        self.timeout = timeout
        self.retry = retry
        self._sleep = sleep

    def __call__(
        self, files: Mapping[str, tuple[str, bytes, str]], fields: Mapping[str, str] | None = None
    ) -> dict[str, Any] | None:
        """Post ``files`` (field -> (file name, bytes, content type)) and ``fields``."""
        return call_with_retries(
            lambda: self._once(files, fields or {}), self.retry, sleep=self._sleep
        )

    def _once(
        self, files: Mapping[str, tuple[str, bytes, str]], fields: Mapping[str, str]
    ) -> dict[str, Any] | None:
        import requests

        form = {**fields, "api_key": self._api_key}
        response = _exchange(
            lambda: requests.post(self.url, data=form, files=dict(files), timeout=self.timeout),
            self._api_key,
            self.timeout,
        )
        return read_reply(response.status_code, response.text, response.headers, self._api_key)


def _exchange(send: Callable[[], Any], api_key: str, timeout: float) -> Any:
    """``send()``'s response, with ``requests``' failures turned into img2img errors."""
    import requests

    try:
        return send()
    except requests.Timeout as exc:
        raise Retryable(
            ServiceUnavailableError(f"SerpAPI did not answer within {timeout:g} s")
        ) from _scrub(exc, api_key)
    except requests.ConnectionError as exc:
        clean = _scrub(exc, api_key)
        raise Retryable(ServiceUnavailableError(f"cannot reach SerpAPI: {clean}")) from clean
    except requests.RequestException as exc:
        clean = _scrub(exc, api_key)
        raise ServiceError(f"SerpAPI request failed: {clean}") from clean


def read_reply(
    status: int, text: str, headers: Mapping[str, str], api_key: str
) -> dict[str, Any] | None:
    """The JSON object of a SerpAPI answer, ``None`` for "no results", or the matching error.

    401/403 and "Invalid API key" raise :class:`AuthenticationError`; 429
    raises :class:`RateLimitError` (retryable unless the account's searches
    have run out); 5xx raises a retryable :class:`ServiceUnavailableError`;
    anything else that is not a JSON object without ``error`` raises
    :class:`ServiceError`.
    """
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    message = ""
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        message = payload["error"].replace(api_key, "***") if api_key else payload["error"]
    detail = message or f"HTTP {status}"

    if message and is_no_results(message):
        return None
    if status in (401, 403) or "invalid api key" in message.lower():
        raise AuthenticationError(
            f"SerpAPI refused the API key ({detail}): {KEY_HELP}", status_code=status
        )
    if status == 429:
        if _QUOTA_SPENT in message.lower():
            raise QuotaExhaustedError(f"SerpAPI: {detail}", status_code=status)
        error = RateLimitError(f"SerpAPI rate limit: {detail}", status_code=status)
        raise Retryable(error, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status >= 500:
        raise Retryable(
            ServiceUnavailableError(f"SerpAPI failed: {detail}", status_code=status),
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    if status != 200 or message:
        raise ServiceError(f"SerpAPI error: {detail}", status_code=status)
    if not isinstance(payload, dict):
        raise ServiceError("SerpAPI sent a response that is not a JSON object", status_code=200)
    return payload
