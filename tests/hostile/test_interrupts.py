"""Kills and Ctrl-C: a run killed mid-way leaves a consistent store that a re-run
completes, and Ctrl-C in the command prints one line and exits 130.

Both run the real thing in a subprocess and signal it once it has stored
something, so the signal lands in the middle of the run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ImageSearchClient
from img2img.embedders.hashing import HashEmbedder
from img2img.stores.local.store import LocalStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

IMAGES = 120


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Distinct small photos-to-be: random pixels, one file each."""
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(7)
    for n in range(IMAGES):
        pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{n:03d}.png")
    return root


def wait_for_stored(path: Path, child: subprocess.Popen[str], at_least: int) -> int:
    """Poll the store another process is writing until it holds ``at_least`` records."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert child.poll() is None, "the run ended before it could be interrupted"
        if path.exists():
            try:
                with LocalStore(path) as store:
                    count = store.count()
            except Exception:  # the writer may be creating the file right now
                count = 0
            if count >= at_least:
                return count
        time.sleep(0.05)
    raise AssertionError("nothing was stored in time")


# -- SIGKILL mid-run ----------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from img2img import ImageSearchClient
    from img2img.embedders.hashing import HashEmbedder
    from img2img.stores.local.store import LocalStore

    class SlowEmbedder(HashEmbedder):
        # Slow enough that the kill lands mid-run, on any machine.
        def embed_images(self, images):
            time.sleep(0.03)
            return super().embed_images(images)

    with LocalStore(sys.argv[1]) as store:
        client = ImageSearchClient(embedder=SlowEmbedder(), store=store, workers=2, batch_size=3)
        client.add([sys.argv[2]])
    """
)


def test_a_killed_run_leaves_a_consistent_store_that_a_rerun_completes(
    folder: Path, tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite3"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(folder)], text=True)
    try:
        seen = wait_for_stored(path, child, at_least=12)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with LocalStore(path) as store:
        survived = store.count()
        assert seen <= survived < IMAGES  # killed mid-way, nothing acknowledged lost
        client = ImageSearchClient(embedder=HashEmbedder(), store=store, batch_size=16)
        report = client.add([folder])
        assert (report.skipped, report.indexed, report.failures) == (
            survived,
            IMAGES - survived,
            (),
        )
        assert store.count() == IMAGES
        urls = {(folder / f"{n:03d}.png").resolve().as_uri() for n in range(IMAGES)}
        found = [
            m.metadata["image_url"]
            for m in store.query(
                client.embedder.embed_images([Image.new("RGB", (8, 8))])[0], k=IMAGES * 2
            )
        ]
        assert sorted(found) == sorted(urls)  # each image once: no duplicates, none lost


# -- Ctrl-C in the command ----------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_exits_130(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "cli.sqlite3"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "img2img",
            "--store",
            str(path),
            "--embedder",
            "efficientnet",
            "add",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_stored(path, child, at_least=1)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert out == ""
    assert "Traceback" not in err
    # One line for the interruption, after the note that made the store.
    # Besides the interruption: the new store, and the model built once on first use.
    said_first = ("Creating", "img2img: building", "img2img: built")
    lines = [line for line in err.strip().splitlines() if not line.startswith(said_first)]
    assert len(lines) == 1, err
    with LocalStore(path) as store:
        stored = store.count()
    assert 0 < stored < IMAGES
    assert lines[0].startswith(f"img2img: interrupted; {stored} images were stored")
