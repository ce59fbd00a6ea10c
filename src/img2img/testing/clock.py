"""A clock that moves only when slept on: rate-limit tests without waiting."""

from __future__ import annotations

import threading

__all__ = ["ManualClock"]


class ManualClock:
    """``now()`` starts at ``start`` and advances by each ``sleep(seconds)``.

    Give ``sleep`` to the code under test and ``now`` to a fake service: the
    service then sees exactly the waits the code made, and the test takes no
    time. ``sleeps`` records every wait, in order.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)
