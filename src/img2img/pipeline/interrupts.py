"""Ctrl-C during a run: at once, except in the middle of a write to the store."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupts"]


class Interrupts:
    """Holds Ctrl-C back while a batch is written, so every write is whole and counted.

    Only on the main thread, and only while Python's own SIGINT handler is in
    place: a program with a handler of its own keeps it.
    """

    def __init__(self) -> None:
        self._held = 0
        self._pending = False
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._held:
            self._pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False

    @contextmanager
    def held(self) -> Iterator[None]:
        """Ctrl-C inside this block is raised as ``KeyboardInterrupt`` when it ends."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self._pending = False
                raise KeyboardInterrupt
