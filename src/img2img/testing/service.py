"""What img2img's fake services share: a loopback server, recorded requests, queued faults.

    class FakeThing(FakeService):
        def _answer(self, request: RecordedRequest) -> Reply:
            return Reply.json({"ok": True})

    with FakeThing() as thing:
        thing.queue(Reply.json({"error": "busy"}, status=503))
        # the first request gets the 503, the next ones the normal answer
        assert thing.requests == []

A fake answers each request with the first queued fault meant for it, if
any, and otherwise with its own :meth:`FakeService._answer`, so a test can play
a 429, then a 503, then the real answer.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from img2img.closing import Closing
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

__all__ = ["FakeService", "RateWindow", "Stall"]


@dataclass(frozen=True)
class Stall:
    """A queued fault that waits ``seconds``, then answers the request normally:
    a client that times out meanwhile does not know whether its write happened."""

    seconds: float


class RateWindow:
    """Requests counted in fixed windows of time, as services count them for rate limits.

    Not thread-safe: a fake takes its lock around :meth:`take`.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._used = 0
        self._ends_at = float("-inf")

    @property
    def used(self) -> int:
        """Requests let pass in the current window (0 once it has ended)."""
        return self._used if self._clock() < self._ends_at else 0

    def take(self, size: int, seconds: float) -> tuple[bool, int, float]:
        """Count one request against ``size`` requests per window of ``seconds``.

        Returns whether it may pass, how many requests the window has let
        pass (this one included), and the seconds until the window ends.
        """
        now = self._clock()
        if now >= self._ends_at:
            self._used = 0
            self._ends_at = now + seconds
        left = max(0.0, self._ends_at - now)
        if self._used >= size:
            return False, self._used, left
        self._used += 1
        return True, self._used, left


class FakeService(Closing):
    """The base of a fake service on ``http://127.0.0.1:<free port>``.

    Subclasses answer requests in :meth:`_answer`; they keep their state
    under ``self._lock``, since every request runs on its own thread.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: deque[tuple[str | None, Reply | Stall]] = deque()
        self._server = LoopbackServer(self._handle)

    def queue(self, *replies: Reply | Stall, path: str | None = None) -> None:
        """Serve these replies, in order, before answering normally: to any request,
        or only to requests for ``path`` (e.g. ``"/vectors/upsert"``). A
        :class:`Stall` delays a request that is then answered normally."""
        with self._lock:
            self._faults.extend((path, reply) for reply in replies)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, faults included, in arrival order."""
        return list(self._server.requests)

    def close(self) -> None:
        self._server.close()

    def _handle(self, request: RecordedRequest) -> Reply:
        with self._lock:
            fault = next((f for f in self._faults if f[0] in (None, request.path)), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            reply = fault[1]
            if isinstance(reply, Reply):
                return reply
            time.sleep(reply.seconds)
        return self._answer(request)

    def _answer(self, request: RecordedRequest) -> Reply:
        """The service's own answer to ``request``."""
        raise NotImplementedError
