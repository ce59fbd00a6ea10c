"""The hand-off between the stages and the runner: one outcome per item, never more than
the window in flight, and the model never waits for the downloads it overlaps."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

from img2img.embedders.hashing import HashEmbedder
from img2img.errors import AuthenticationError
from img2img.models import ImageCandidate
from img2img.pipeline import IndexSettings, run_index
from img2img.pipeline.failures import ItemFailed
from img2img.pipeline.handoff import Failed, HandOff, Refused, Stopped
from img2img.stores.memory import InMemoryStore


def tiny_png(index: int) -> bytes:
    rng = np.random.default_rng(index)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def number(url: str) -> int:
    return int(url.rsplit("/", 1)[1].split(".")[0])


def test_the_hand_off_starts_no_more_items_than_its_window() -> None:
    handoff = HandOff(window=3)
    for _ in range(3):
        handoff.start()
    assert not handoff.has_room
    with pytest.raises(RuntimeError, match="3 items are in flight"):
        handoff.start()
    candidates = [ImageCandidate(f"https://example.test/{n}.png") for n in range(3)]
    threads = [threading.Thread(target=handoff.put, args=(Refused(c),)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    collected: list[Any] = []
    while handoff.in_flight:
        collected += handoff.collect()
    assert sorted(o.candidate.image_url for o in collected) == [c.image_url for c in candidates]
    assert handoff.has_room
    assert handoff.collect() == []


def test_settling_turns_what_a_stage_raises_into_that_items_outcome() -> None:
    handoff = HandOff(window=4)
    candidate = ImageCandidate("https://example.test/1.png")
    error = OSError("connection reset")
    key = AuthenticationError("bad key")

    def fails() -> None:
        raise ItemFailed("fetch", error)

    def stops() -> None:
        raise key

    for _ in range(3):
        handoff.start()
    handoff.settle(candidate, lambda: None)  # went on to the next stage: nothing yet
    handoff.settle(candidate, fails)
    handoff.settle(candidate, stops)
    handoff.settle(candidate, lambda: Refused(candidate))
    outcomes = handoff.collect()
    assert outcomes == [Failed(candidate, "fetch", error), Stopped(key), Refused(candidate)]
    with pytest.raises(ValueError, match="at least 1"):
        HandOff(window=0)


class StalledModel(HashEmbedder):
    """Holds its first model call until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()
        self.release = threading.Event()

    def embed_prepared(self, prepared: Sequence[Any]) -> Any:
        if not self.stalled.is_set():
            self.stalled.set()
            assert self.release.wait(timeout=30), "the test never released the model"
        return super().embed_prepared(prepared)


def test_downloads_go_on_while_the_model_works_up_to_the_window() -> None:
    # While the model is busy with the first batch, the stages finish every
    # item in flight (more than a batch) and start no more: the runner, busy
    # with the model, starts none, and the window bounds what it started.
    settings = IndexSettings(workers=2, batch_size=4)
    embedder = StalledModel()
    reads: list[int] = []
    lock = threading.Lock()

    def read(url: str) -> bytes:
        with lock:
            reads.append(number(url))
        return tiny_png(number(url))

    seen_while_stalled: list[int] = []

    def watch() -> None:
        assert embedder.stalled.wait(timeout=30)
        deadline = time.monotonic() + 30
        while len(reads) < settings.window and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # room for a read beyond the bound to show itself
        seen_while_stalled.append(len(reads))
        embedder.release.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    report = run_index(
        (ImageCandidate(f"https://example.test/{n}.png") for n in range(60)),
        keyphrase=None,
        read=read,
        embedder=embedder,
        store=InMemoryStore(),
        settings=settings,
    )
    watcher.join()
    [stalled_at] = seen_while_stalled
    # The runner started at most a window beyond what it had collected, and it
    # had collected fewer than a batch beyond the batch it gave the model.
    assert settings.window <= stalled_at <= settings.window + settings.batch_size - 1
    assert stalled_at > settings.batch_size  # the downloads ran ahead of the model
    assert (report.indexed, report.failed) == (60, 0)
    assert sorted(reads) == list(range(60))


def test_a_systemic_error_on_a_workshop_thread_ends_the_run() -> None:
    class Locked:
        def admit(self, id: str, candidate: ImageCandidate, image: Any, sha256: str) -> bool:
            if number(candidate.image_url) == 5:
                raise AuthenticationError("the checking service refused the key")
            return True

    with pytest.raises(AuthenticationError, match="refused the key"):
        run_index(
            (ImageCandidate(f"https://example.test/{n}.png") for n in range(40)),
            keyphrase=None,
            read=lambda url: tiny_png(number(url)),
            embedder=HashEmbedder(),
            store=InMemoryStore(),
            settings=IndexSettings(workers=2, batch_size=4),
            gate=Locked(),
        )
