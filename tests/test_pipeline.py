"""The indexing pipeline: work on the right threads, bounded memory, Ctrl-C that leaves a sound store."""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import (
    HashEmbedder,
    HttpFetcher,
    ImageCandidate,
    ImageSearchClient,
    IndexInterrupted,
    IndexProgress,
    InMemoryStore,
    LocalStore,
)
from img2img.pipeline import IndexSettings, run_index
from img2img.pipeline.reuse import SKIP_CHECK_CHUNK
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply


def tiny_png(index: int) -> bytes:
    """A distinct 8x8 PNG for each index, so no two share a sha256."""
    rng = np.random.default_rng(index)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def test_images_are_prepared_in_the_workshop_and_embedded_on_the_caller(
    photo_folder: Path,
) -> None:
    embedder = HashEmbedder()
    client = ImageSearchClient(embedder=embedder, store=InMemoryStore(), batch_size=4)
    report = client.add([photo_folder])
    assert report.indexed == len(list(photo_folder.glob("*.png")))
    assert len(embedder.prepare_threads) == report.indexed
    assert all(name.startswith("img2img-prepare") for name in embedder.prepare_threads)
    assert set(embedder.embed_threads) == {threading.current_thread().name}


class HeldGate:
    """Holds every image at the gate until released, then admits it."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def admit(self, id: str, candidate: ImageCandidate, image: Image.Image, sha256: str) -> bool:
        assert self.released.wait(timeout=30), "the test never released the gate"
        return True


def test_downloads_run_ahead_of_decoding_by_a_bounded_number() -> None:
    # While the workshop is stuck on the first images, the download threads go
    # on: each may download one more and wait with it, beyond the workshop's
    # backlog of `workers` images; then they stop.
    settings = IndexSettings(workers=2, batch_size=4)
    gate = HeldGate()
    reads = 0
    lock = threading.Lock()
    ran_ahead = threading.Event()

    def read(url: str) -> bytes:
        nonlocal reads
        with lock:
            reads += 1
            if reads == 2 * settings.workers:
                ran_ahead.set()
        return tiny_png(int(url.rsplit("/", 1)[1].split(".")[0]))

    def release_when_ran_ahead() -> None:
        assert ran_ahead.wait(timeout=30)
        time.sleep(0.3)  # room for a download beyond the bound to show itself
        with lock:
            held.append(reads)
        gate.released.set()

    held: list[int] = []
    releaser = threading.Thread(target=release_when_ran_ahead)
    releaser.start()
    report = run_index(
        (ImageCandidate(f"https://example.test/{n}.png") for n in range(40)),
        keyphrase=None,
        read=read,
        embedder=HashEmbedder(),
        store=InMemoryStore(),
        settings=settings,
        gate=gate,
    )
    releaser.join()
    assert held == [2 * settings.workers]
    assert report.indexed == 40


def test_ten_thousand_candidates_never_hold_more_than_the_queue_bounds() -> None:
    settings = IndexSettings(workers=4, batch_size=8)
    pulled = 0
    finished = 0
    most_in_flight = 0
    reads_running = 0
    most_reads = 0
    lock = threading.Lock()

    def candidates() -> Iterator[ImageCandidate]:
        nonlocal pulled, most_in_flight
        for index in range(10_000):
            pulled += 1
            most_in_flight = max(most_in_flight, pulled - finished)
            yield ImageCandidate(f"https://example.test/{index}.png")

    def read(url: str) -> bytes:
        nonlocal reads_running, most_reads
        with lock:
            reads_running += 1
            most_reads = max(most_reads, reads_running)
        try:
            return tiny_png(int(url.rsplit("/", 1)[1].split(".")[0]))
        finally:
            with lock:
                reads_running -= 1

    def progress(counts: IndexProgress) -> None:
        nonlocal finished
        finished = counts.stored + counts.failed + counts.skipped

    report = run_index(
        candidates(),
        keyphrase=None,
        read=read,
        embedder=HashEmbedder(),
        store=InMemoryStore(),
        settings=settings,
        progress=progress,
    )
    assert report.indexed == 10_000
    # Held at once: the downloads in flight, one batch waiting for the model,
    # and the candidates read ahead for one store lookup.
    bound = settings.window + settings.batch_size + SKIP_CHECK_CHUNK
    assert most_in_flight <= bound
    assert most_in_flight > settings.window  # the check above measures something
    assert most_reads <= settings.workers


def test_progress_counts_are_accurate_through_the_run(photo_folder: Path) -> None:
    seen: list[IndexProgress] = []
    client = ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), batch_size=4)
    report = client.add([photo_folder, photo_folder / "coffee.png"], progress=seen.append)
    last = seen[-1]
    assert last.done
    assert (last.discovered, last.stored, last.embedded, last.failed) == (
        report.discovered,
        report.indexed,
        report.indexed,
        0,
    )
    for earlier, later in itertools.pairwise(seen):
        assert all(
            getattr(later, f) >= getattr(earlier, f)
            for f in ("discovered", "fetched", "embedded", "stored", "skipped", "failed")
        )
        assert later.stored <= later.fetched <= later.discovered


def test_keyboard_interrupt_from_a_callback_leaves_a_sound_store(
    photo_folder: Path, tmp_path: Path
) -> None:
    def stop_after_first_batch(counts: IndexProgress) -> None:
        if counts.stored >= 4:
            raise KeyboardInterrupt

    with LocalStore(tmp_path / "index.sqlite3") as store:
        client = ImageSearchClient(embedder=HashEmbedder(), store=store, batch_size=4)
        with pytest.raises(IndexInterrupted) as caught:
            client.add([photo_folder], progress=stop_after_first_batch)
        assert isinstance(caught.value, KeyboardInterrupt)
        stopped = caught.value.report
        assert stopped.indexed == 4
        assert "indexed 4" in str(caught.value)
        assert store.count() == stopped.indexed
    with LocalStore(tmp_path / "index.sqlite3") as store:
        client = ImageSearchClient(embedder=HashEmbedder(), store=store, batch_size=4)
        rest = client.add([photo_folder])
        total = len(list(photo_folder.glob("*.png")))
        assert (rest.skipped, rest.indexed) == (4, total - 4)
        assert store.count() == total


def test_a_real_sigint_stops_a_run_waiting_on_slow_downloads(tmp_path: Path) -> None:
    # In a new interpreter: a signal sent to this test process would also reach what
    # native runtimes loaded by earlier tests leave behind (OpenVINO's crashes it).
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from pathlib import Path; from test_pipeline import sigint_stops_a_run; "
        f"sigint_stops_a_run(Path({str(tmp_path)!r})); print('done')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("done")


def sigint_stops_a_run(tmp_path: Path) -> None:
    """A Ctrl-C while downloads hang stops the run at once, leaving only whole records."""
    release = threading.Event()
    served = 0
    lock = threading.Lock()

    def serve(request: RecordedRequest) -> Reply:
        nonlocal served
        with lock:
            served += 1
            number = served
        if number == 12:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered to the main thread
        if number > 8:
            release.wait(60)  # the rest hang, as a stalled server does
        index = int(request.path.rsplit("/", 1)[1].split(".")[0])
        return Reply(body=tiny_png(index), headers={"Content-Type": "image/png"})

    assert threading.current_thread() is threading.main_thread()
    with LoopbackServer(serve) as server, LocalStore(tmp_path / "index.sqlite3") as store:
        fetcher = HttpFetcher(allowed_networks=["127.0.0.0/8"], max_connections=8)
        client = ImageSearchClient(
            embedder=HashEmbedder(), store=store, fetcher=fetcher, workers=8, batch_size=4
        )
        started = time.monotonic()
        try:
            with pytest.raises(IndexInterrupted) as caught:
                client.add([f"{server.url}/{n}.png" for n in range(200)])
            waited = time.monotonic() - started
        finally:
            release.set()
            fetcher.close()
        report = caught.value.report
        # The downloads that were still hanging would have held the run for a minute.
        assert waited < 30
        assert report.indexed == store.count()
        assert report.indexed <= 8
        # Every record the store holds is whole: provenance written with its vector.
        assert all(record.metadata["sha256"] for page in store.scan() for record in page)


class EvenOnly:
    """A gate letting through images whose URL ends in an even number; it fails on 13."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def admit(self, id: str, candidate: ImageCandidate, image: Image.Image, sha256: str) -> bool:
        number = int(candidate.image_url.rsplit("/", 1)[1].split(".")[0])
        with self.lock:
            self.seen.append((id, sha256))
            self.threads.add(threading.current_thread().name)
        if number == 13:
            raise ValueError("the gate could not judge this one")
        return number % 2 == 0


def test_a_gate_keeps_images_out_before_the_model_sees_them() -> None:
    embedder = HashEmbedder()
    store = InMemoryStore()
    gate = EvenOnly()
    progress: list[IndexProgress] = []
    candidates = [ImageCandidate(f"https://example.test/{n}.png") for n in range(20)]

    report = run_index(
        candidates,
        keyphrase=None,
        read=lambda url: tiny_png(int(url.rsplit("/", 1)[1].split(".")[0])),
        embedder=embedder,
        store=store,
        settings=IndexSettings(workers=3, batch_size=4),
        progress=progress.append,
        gate=gate,
    )

    assert (report.indexed, report.refused, report.failed, report.discovered) == (10, 9, 1, 20)
    assert str(report).startswith("discovered 20, indexed 10, skipped 0, refused 9, failed 1")
    [failure] = report.failures
    assert (failure.url, failure.stage) == ("https://example.test/13.png", "verify")
    assert "could not judge" in failure.reason
    assert store.count() == 10
    stored = {r.metadata["image_url"] for page in store.scan() for r in page}
    assert stored == {f"https://example.test/{n}.png" for n in range(0, 20, 2)}
    assert len(embedder.prepare_threads) == 10  # refused images are never prepared or embedded
    assert len(gate.seen) == 20
    assert all(len(sha) == 64 for _, sha in gate.seen)
    assert all(name.startswith("img2img-prepare") for name in gate.threads)
    assert (progress[-1].refused, progress[-1].done) == (9, True)
