"""The HTTP client the web APIs are called through: JSON requests, retries, rate limits, errors.

Each service words its errors and rate limits differently, so a source passes
a ``limits`` reader that turns a response into a :class:`RateLimit` (how many
requests are left, how long until the window resets, how long a 429 asks us
to wait). The client then

- retries 429s, 5xx and network failures with the :class:`RetryPolicy`,
  waiting at least what the service asked for;
- waits before the next request when the window is spent (``remaining < 1``),
  so a long paging run slows down instead of running into 429s;
- returns every other response, status and decoded JSON, for the source to
  read: only the source knows what a 403 or a 404 means for its service.

Credentials travel only in headers and bodies, never in URLs, so the httpx
exceptions chained to ours (whose texts hold the URL) carry none; ``secrets``
are scrubbed from our own messages all the same.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from img2img.closing import Closing
from img2img.errors import (
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
)
from img2img.net.retry import Retryable, RetryPolicy, call_with_retries, parse_retry_after

__all__ = [
    "ApiClient",
    "ApiReply",
    "RateLimit",
    "scrub",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    """What a response says about the service's rate limit; ``None`` where it says nothing.

    ``remaining``: requests left in the current window. ``reset_after``:
    seconds until the window resets. ``retry_after``: seconds a 429 asks us
    to wait (beside the standard ``Retry-After`` header, which the client
    reads itself).
    """

    remaining: float | None = None
    reset_after: float | None = None
    retry_after: float | None = None


#: Reads the rate-limit state from a response and its decoded body.
LimitReader = Callable[[httpx.Response, Any], RateLimit]


def _no_limits(response: httpx.Response, payload: Any) -> RateLimit:
    return RateLimit()


@dataclass(frozen=True)
class ApiReply:
    """A response the client did not retry: status, decoded JSON (or ``None``), headers."""

    status: int
    payload: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class ApiClient(Closing):
    """Sends requests to one service and returns :class:`ApiReply` objects.

    Args:
        service: the service's name, for messages ("Discord").
        base_url: prepended to every path; tests point it at a loopback fake.
        headers: sent with every request (authorization, user agent).
        timeout: seconds for one request.
        retry: tries and waits for 429, 5xx and network failures.
        limits: reads the service's rate-limit headers and bodies.
        secrets: strings never to let into a message (tokens, passwords).
        sleep: how to wait (tests pass a recorder).
        transport: an httpx transport, for tests that need one.
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        retry: RetryPolicy,
        limits: LimitReader = _no_limits,
        secrets: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.service = service
        self.retry = retry
        self._limits = limits
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self._pause = 0.0
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers),
            timeout=timeout,
            transport=transport,
            # An API that redirects is moving; follow it rather than fail.
            follow_redirects=True,
        )

    def __repr__(self) -> str:
        return f"ApiClient(service={self.service!r}, base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, params: Mapping[str, str] | None = None) -> ApiReply:
        """``GET base_url + path`` with query ``params``."""
        return self.request("GET", path, params=params)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> ApiReply:
        """Send one request, with retries; return the first response that is not retried.

        ``files`` sends a ``multipart/form-data`` body (with ``form`` as its
        other fields): each a name, the file's name, its bytes and media type.

        Raises:
            RateLimitError: still throttled when the tries ran out, or asked
                to wait longer than the retry policy allows.
            ServiceUnavailableError: 5xx or unreachable when the tries ran out.
        """

        def attempt() -> ApiReply:
            return self._once(method, path, params, json_body, form, headers, auth, files)

        return call_with_retries(attempt, self.retry, sleep=self._sleep)

    def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> ApiReply:
        if self._pause > 0:
            log.info("%s rate limit window spent; waiting %.1f s", self.service, self._pause)
            self._sleep(self._pause)
            self._pause = 0.0
        try:
            response = self._client.request(
                method,
                path,
                params=params,
                json=json_body,
                data=form,
                files=files,
                headers=headers,
                auth=auth,
            )
        except httpx.TimeoutException as exc:
            raise Retryable(
                ServiceUnavailableError(f"{self.service} did not answer in time")
            ) from exc
        except httpx.TransportError as exc:
            detail = scrub(str(exc), self._secrets) or type(exc).__name__
            raise Retryable(
                ServiceUnavailableError(f"cannot reach {self.service}: {detail}")
            ) from exc
        except httpx.HTTPError as exc:
            detail = scrub(str(exc), self._secrets)
            raise ServiceError(f"{self.service} request failed: {detail}") from exc
        payload = _decode(response)
        limit = self._limits(response, payload)
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            hinted = limit.retry_after if limit.retry_after is not None else limit.reset_after
            if hinted is not None:
                wait = hinted if wait is None else max(wait, hinted)
            raise Retryable(
                RateLimitError(
                    f"{self.service} rate limit"
                    + (f" (asked to wait {wait:g} s)" if wait is not None else ""),
                    status_code=429,
                ),
                retry_after=wait,
            )
        if status >= 500:
            raise Retryable(
                ServiceUnavailableError(
                    f"{self.service} failed: HTTP {status}", status_code=status
                ),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if limit.remaining is not None and limit.remaining < 1 and limit.reset_after:
            # Waiting longer than the policy's longest wait would stall the
            # caller; the next request then meets a 429 and the retry rules.
            self._pause = min(limit.reset_after, self.retry.max_delay)
        return ApiReply(status=status, payload=payload, headers=dict(response.headers))
