"""Calling the pinecone SDK: its exceptions translated into img2img's, transient ones retried.

The SDK already retries 408, 429 and 5xx answers and dropped connections a
few times on its own (data-plane REST offers no switch for that). What it
still raises after that is translated here, and throttling or outages are
retried once more under our :class:`~img2img.net.retry.RetryPolicy`, with longer
waits and the server's ``Retry-After`` honoured, before they reach the caller
as :class:`~img2img.errors.RateLimitError` or
:class:`~img2img.errors.ServiceUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from img2img.errors import (
    AuthenticationError,
    Img2ImgError,
    InvalidFilterError,
    InvalidMetadataError,
    InvalidVectorError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
    StoreError,
)
from img2img.net.retry import Retryable, RetryPolicy, call_with_retries, parse_retry_after

__all__ = ["DEFAULT_RETRY", "call_pinecone", "is_not_found", "translate"]

T = TypeVar("T")

#: One more round after the SDK's own retries, waiting longer.
DEFAULT_RETRY = RetryPolicy(attempts=2, base_delay=2.0, max_delay=60.0)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_not_found(exc: BaseException) -> bool:
    """True for the SDK's 404 answer (no such index or namespace)."""
    return _status(exc) == 404


def _masked(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _clean_cause(exc: Exception, secret: str) -> BaseException:
    """``exc``, or, when its text holds ``secret``, a plain copy of it without: tracebacks
    print the whole chain."""
    if not secret or secret not in f"{exc} {exc!r}":
        return exc
    clean = RuntimeError(
        f"{type(exc).__module__}.{type(exc).__name__}: {_masked(str(exc), secret)}"
    )
    return clean.with_traceback(exc.__traceback__)


def translate(exc: Exception, what: str, *, secret: str = "") -> Img2ImgError:
    """The img2img error for a pinecone SDK exception raised while doing ``what``.

    ``secret`` (the API key) is masked wherever the service's text repeats it.
    """
    from pinecone.errors.exceptions import PineconeConnectionError, PineconeTimeoutError

    status = _status(exc)
    detail = _masked(str(getattr(exc, "message", "") or exc), secret)
    message = f"Pinecone {what} failed: {detail}"
    if status in (401, 403):
        return AuthenticationError(
            f"Pinecone refused the API key ({status}) during {what}: {detail}", status_code=status
        )
    if status == 429:
        return RateLimitError(message, status_code=status)
    if status is not None and (status >= 500 or status == 408):
        return ServiceUnavailableError(message, status_code=status)
    if status in (400, 413, 422):
        text = detail.lower()
        if "filter" in text:
            return InvalidFilterError(message)
        if "metadata" in text:
            return InvalidMetadataError(message)
        if "dimension" in text or "vector" in text:
            return InvalidVectorError(message)
        return StoreError(message)
    if status == 404:
        return StoreError(f"{message} (is the index name or host right?)")
    if status is not None:
        return ServiceError(message, status_code=status)
    if isinstance(exc, (PineconeTimeoutError, PineconeConnectionError)):
        return ServiceUnavailableError(message)
    return StoreError(message)


def _retry_after(exc: BaseException) -> float | None:
    headers: Any = getattr(exc, "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    return parse_retry_after(value if isinstance(value, str) else None)


def call_pinecone(
    operation: Callable[[], T], what: str, policy: RetryPolicy = DEFAULT_RETRY, *, secret: str = ""
) -> T:
    """Run one SDK call; raise only img2img errors, chained to the SDK's.

    ``secret`` (the API key) never appears in what is raised, even if the
    service repeats it.
    """
    from pinecone.errors.exceptions import PineconeError

    def attempt() -> T:
        try:
            return operation()
        except PineconeError as exc:
            error = translate(exc, what, secret=secret)
            cause = _clean_cause(exc, secret)
            if isinstance(error, (RateLimitError, ServiceUnavailableError)):
                raise Retryable(error, retry_after=_retry_after(exc)) from cause
            raise error from cause
        except (Img2ImgError, Retryable):
            raise
        except Exception as exc:
            # What the SDK lets through unwrapped (a parser's or HTTP library's own
            # error on a strange answer) is still a store failure, not a crash.
            raise StoreError(
                f"Pinecone {what} failed: unexpected {type(exc).__name__}: "
                f"{_masked(str(exc), secret)}"
            ) from _clean_cause(exc, secret)

    return call_with_retries(attempt, policy)
