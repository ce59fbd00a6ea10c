"""Retries with exponential backoff, jitter, ``Retry-After`` and a deadline.

The operation decides what is worth another try, because only it can see the
status code, the headers or the vendor's exception. It raises
:class:`Retryable` wrapping the error to raise if the tries run out::

    def attempt() -> dict[str, Any]:
        response = session.get(url)
        if response.status_code == 429:
            raise Retryable(
                RateLimitError("throttled", status_code=429),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return response.json()

    data = call_with_retries(attempt, RetryPolicy(attempts=4))

Any other exception passes straight through, untouched and not retried.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from img2img.errors import ConfigurationError

__all__ = ["RetryPolicy", "Retryable", "call_with_retries", "parse_retry_after"]

T = TypeVar("T")


class Retryable(Exception):
    """Raised by an operation to ask for another try.

    Args:
        error: raised (``from`` this exception's ``__cause__``) when no try is left.
        retry_after: seconds the server asked us to wait, if it said so.
    """

    def __init__(self, error: Exception, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries, and how long to wait between them.

    The wait before retry ``n`` (1-based) is ``base_delay * multiplier**(n-1)``,
    capped at ``max_delay``, then shortened by up to ``jitter`` of itself at
    random so that many clients throttled at once do not come back in step.
    A server's ``Retry-After`` replaces the computed wait when it is longer;
    one longer than ``max_delay`` ends the retries at once (waiting less would
    ignore the server, waiting more would stall the caller).

    Args:
        attempts: tries in all, the first included (1 means no retry).
        base_delay: seconds before the first retry.
        multiplier: growth of the wait per retry.
        max_delay: the longest single wait, in seconds.
        jitter: fraction of each computed wait removed at random, in [0, 1].
    """

    attempts: int = 3
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ConfigurationError("RetryPolicy delays must be >= 0 and the multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError("RetryPolicy.jitter must be between 0 and 1")

    def delay(
        self,
        retry: int,
        *,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retry number ``retry`` (1-based); ``None`` means give up."""
        if retry >= self.attempts:
            return None
        computed = min(self.max_delay, self.base_delay * self.multiplier ** (retry - 1))
        computed *= 1.0 - self.jitter * rand()
        if retry_after is None:
            return computed
        if retry_after > self.max_delay:
            return None
        return max(computed, retry_after)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date.

    Returns ``None`` for a missing or unreadable value, and never less than 0.
    ``now`` is the current Unix time, for tests.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT even when marked -0000
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def call_with_retries(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """Call ``operation`` until it returns, raises a non-:class:`Retryable`, or tries run out.

    Args:
        operation: raises :class:`Retryable` to ask for another try.
        policy: how many tries and how long to wait between them.
        deadline: a ``clock()`` value; no retry is started whose wait would pass it.
        sleep, clock, rand: injectable for tests.

    Raises:
        The ``error`` of the last :class:`Retryable`, chained to its cause.
    """
    retry = 0
    while True:
        try:
            return operation()
        except Retryable as exc:
            retry += 1
            wait = policy.delay(retry, retry_after=exc.retry_after, rand=rand)
            if wait is None or (deadline is not None and clock() + wait >= deadline):
                raise exc.error from exc.__cause__
        sleep(wait)
