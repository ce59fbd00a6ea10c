"""The two policies: one bad item at any stage costs that item only, and Ctrl-C waits for
the write in progress, never more."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from PIL import Image

from img2img.embedders.hashing import HashEmbedder
from img2img.models import ImageCandidate, VectorRecord
from img2img.pipeline import IndexSettings, run_index
from img2img.stores.memory import InMemoryStore


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 40, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def number(url: str) -> int:
    return int(url.rsplit("/", 1)[1].split(".")[0])


def read(url: str) -> bytes:
    n = number(url)
    if n == 1:
        raise OSError("connection reset by peer")
    if n == 2:
        return b"<html>not an image</html>"
    return png(n * 20)


class UnsureGate:
    def admit(self, id: str, candidate: ImageCandidate, image: Any, sha256: str) -> bool:
        if number(candidate.image_url) == 3:
            raise ValueError("cannot judge this one")
        return True


class ModelWithABlindSpot(HashEmbedder):
    """Fails any batch that holds the image of shade 80 (number 4)."""

    def prepare(self, image: Image.Image) -> Any:
        return (super().prepare(image), image.getpixel((0, 0))[0] == 80)

    def embed_prepared(self, prepared: Sequence[Any]) -> Any:
        if any(blind for _, blind in prepared):
            raise ValueError("the model cannot embed this one")
        return super().embed_prepared([pixels for pixels, _ in prepared])


class StoreWithABadRecord(InMemoryStore):
    def upsert(self, records: Sequence[VectorRecord]) -> None:
        if any(number(str(r.metadata["image_url"])) == 5 for r in records):
            raise ValueError("cannot store this one")
        super().upsert(records)


def test_an_item_failing_at_each_stage_is_reported_and_the_run_goes_on() -> None:
    store = StoreWithABadRecord()
    report = run_index(
        (ImageCandidate(f"https://example.test/{n}.png") for n in range(1, 13)),
        keyphrase=None,
        read=read,
        embedder=ModelWithABlindSpot(),
        store=store,
        settings=IndexSettings(workers=2, batch_size=4),
        gate=UnsureGate(),
    )
    stages = {number(f.url): (f.stage, f.reason) for f in report.failures}
    assert stages == {
        1: ("fetch", "unexpected OSError: connection reset by peer"),
        2: ("decode", stages[2][1]),
        3: ("verify", "unexpected ValueError: cannot judge this one"),
        4: ("embed", "unexpected ValueError: the model cannot embed this one"),
        5: ("store", "unexpected ValueError: cannot store this one"),
    }
    assert (report.discovered, report.indexed, store.count()) == (12, 7, 7)
    stored = {number(str(r.metadata["image_url"])) for page in store.scan() for r in page}
    assert stored == set(range(6, 13))


def in_a_fresh_process(body: str) -> str:
    """Run ``body`` (with ``Interrupts``, ``os``, ``signal`` imported) in a new interpreter.

    A signal sent to this test process would also reach the handlers that native
    libraries loaded by earlier tests (model runtimes) leave behind; a fresh
    interpreter holds only what the policy under test installs.
    """
    script = (
        "import os, signal\n"
        "from img2img.pipeline.interrupts import Interrupts\n"
        "steps = []\n" + textwrap.dedent(body)
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_ctrl_c_while_held_is_raised_when_the_write_ends() -> None:
    said = in_a_fresh_process(
        """
        interrupts = Interrupts()
        try:
            with interrupts, interrupts.held():
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("the write went on")  # handled by now, and held
        except KeyboardInterrupt:
            steps.append("raised")
        print(steps, signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        """
    )
    assert said == "['the write went on', 'raised'] True"


def test_ctrl_c_outside_a_write_stops_at_once() -> None:
    said = in_a_fresh_process(
        """
        try:
            with Interrupts():
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("went on")
        except KeyboardInterrupt:
            steps.append("raised")
        print(steps)
        """
    )
    assert said == "['raised']"


def test_a_programs_own_sigint_handler_is_kept() -> None:
    said = in_a_fresh_process(
        """
        caught = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
        interrupts = Interrupts()
        with interrupts, interrupts.held():
            os.kill(os.getpid(), signal.SIGINT)
        kept = signal.getsignal(signal.SIGINT) not in (previous, signal.default_int_handler)
        print(caught == [signal.SIGINT], kept)
        """
    )
    assert said == "True True"  # the program's handler was called, and is its handler still
