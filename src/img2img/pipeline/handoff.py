"""How items come back from the stage threads to the runner: one outcome per item, one queue.

The runner starts an item only while fewer than ``window`` are in flight; a
stage thread hands each item's outcome (ready for the model, refused by the
gate, failed at a stage, or a systemic error that ends the run) to the one
queue the runner reads. An item in flight has exactly one outcome coming, so
the queue never holds more than ``window`` of them, and no stage waits on
another's future.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass

from img2img.models import ImageCandidate, Stage
from img2img.pipeline.failures import ItemFailed
from img2img.pipeline.items import Item

__all__ = ["Failed", "HandOff", "Outcome", "Ready", "Refused", "Stopped"]


@dataclass(frozen=True, slots=True)
class Ready:
    """Downloaded, decoded and prepared: waiting for the model."""

    item: Item


@dataclass(frozen=True, slots=True)
class Refused:
    """The gate turned the image away; not a failure."""

    candidate: ImageCandidate


@dataclass(frozen=True, slots=True)
class Failed:
    """This one item failed at ``stage``; the run goes on."""

    candidate: ImageCandidate
    stage: Stage
    error: Exception


@dataclass(frozen=True, slots=True)
class Stopped:
    """A systemic error (or Ctrl-C) on a stage's thread: the runner raises it."""

    error: BaseException


Outcome = Ready | Refused | Failed | Stopped


class HandOff:
    """The outcomes of the items in flight, at most ``window`` of them.

    ``start`` and ``collect`` belong to the runner's thread; ``settle`` and
    ``put`` to the stages' threads.
    """

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        self.window = window
        self._in_flight = 0
        self._outcomes: queue.Queue[Outcome] = queue.Queue()

    @property
    def in_flight(self) -> int:
        """Items started whose outcome the runner has not collected yet."""
        return self._in_flight

    @property
    def has_room(self) -> bool:
        return self._in_flight < self.window

    def start(self) -> None:
        """Count one more item in flight; the runner calls this before handing it to a stage."""
        if not self.has_room:
            raise RuntimeError(f"{self.window} items are in flight already")
        self._in_flight += 1

    def put(self, outcome: Outcome) -> None:
        self._outcomes.put(outcome)

    def settle(self, candidate: ImageCandidate, work: Callable[[], Outcome | None]) -> None:
        """Run one stage's ``work`` on an item and hand on its outcome, if it has one yet
        (``None``: the item went on to the next stage). A per-item failure
        (:class:`~img2img.pipeline.failures.ItemFailed`) becomes :class:`Failed`;
        anything else escaping the stage, :class:`Stopped`."""
        try:
            outcome = work()
        except ItemFailed as failed:
            outcome = Failed(candidate, failed.stage, failed.error)
        except BaseException as exc:  # handed to the runner's thread, which raises it
            outcome = Stopped(exc)
        if outcome is not None:
            self.put(outcome)

    def collect(self) -> list[Outcome]:
        """Wait for at least one outcome, then take every one that is there."""
        if not self._in_flight:
            return []
        outcomes = [self._outcomes.get()]
        while True:
            try:
                outcomes.append(self._outcomes.get_nowait())
            except queue.Empty:
                break
        self._in_flight -= len(outcomes)
        return outcomes
