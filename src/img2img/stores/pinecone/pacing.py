"""Many Pinecone requests at once: a bounded number in flight, started at a paced rate.

Pinecone answers one query vector per request and limits each namespace to
100 query requests a second (a 429 past that). Asking for a page of records'
neighbours one request after another leaves the service idle between round
trips; sending them all at once is refused. :func:`run_paced` keeps at most
``concurrency`` requests in flight and starts them no faster than
``per_second``; a 429 that still comes (another client shares the limit) is
retried by the call itself (:func:`~img2img.stores.pinecone.calls.call_pinecone`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from img2img.errors import ConfigurationError

__all__ = ["RequestPace", "run_paced"]

T = TypeVar("T")


class RequestPace:
    """Start times at least ``1 / per_second`` apart, shared by every thread that waits on it."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not per_second > 0:
            raise ConfigurationError(f"requests per second must be positive, got {per_second}")
        self.per_second = per_second
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def wait(self) -> None:
        """Return at this caller's start time: the next free one, never earlier than now."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.per_second
        if start > now:
            self._sleep(start - now)


def run_paced(calls: Sequence[Callable[[], T]], *, concurrency: int, pace: RequestPace) -> list[T]:
    """Each call's result, in order; at most ``concurrency`` run at once, started at ``pace``.

    The first call to raise stops the rest from starting (those in flight
    finish) and its exception is raised.
    """
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
    if len(calls) <= 1 or concurrency == 1:
        out = []
        for call in calls:
            pace.wait()
            out.append(call())
        return out
    stop = threading.Event()

    def paced(call: Callable[[], T]) -> T:
        pace.wait()
        if stop.is_set():
            raise _Skipped
        return call()

    with ThreadPoolExecutor(max_workers=min(concurrency, len(calls))) as pool:
        futures: list[Future[T]] = [pool.submit(paced, call) for call in calls]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            stop.set()
            for future in futures:
                future.cancel()
            error = failed.exception()
            assert error is not None
            raise error
    return [future.result() for future in futures]


class _Skipped(Exception):
    """A call not started because another had failed (never seen by callers)."""
