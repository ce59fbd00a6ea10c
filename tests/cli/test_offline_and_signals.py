"""Failing fast without CLIP weights, stopping on Ctrl-C, and progress on a terminal."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import cli_env, run_cli

from img2img.models import EmbeddingSpace, VectorRecord
from img2img.stores.local.store import LocalStore
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

ADVICE = (
    "use --embedder efficientnet (offline, installed with img2img) or "
    "--clip-checkpoint PATH (an open_clip checkpoint file)"
)


def test_offline_without_clip_weights_fails_in_one_line_within_two_seconds(
    photo_folder: Path, home: Path, tmp_path: Path
) -> None:
    store = tmp_path / "new.sqlite3"
    done = run_cli("--store", store, "add", photo_folder / "coffee.png", home=home)
    assert done.code == 1
    assert done.err.count("\n") == 1, done.err
    assert done.err.startswith(
        "img2img: error: CLIP weights open_clip/ViT-B-32/laion2b_s34b_b79k are not on this machine"
    )
    assert ADVICE in done.err
    assert done.seconds < 2.0, f"took {done.seconds:.2f}s"
    assert not store.exists()  # no empty store is left behind


def test_a_clip_store_searched_offline_fails_fast_too(
    photo_folder: Path, home: Path, tmp_path: Path
) -> None:
    store = tmp_path / "clip.sqlite3"
    with LocalStore(store) as local:
        local.set_embedding_space(EmbeddingSpace("open_clip/ViT-B-32/laion2b_s34b_b79k", 512))
        local.upsert([VectorRecord("a", np.eye(1, 512, dtype=np.float32)[0], {"title": "a"})])
    done = run_cli("--store", store, "search", photo_folder / "coffee.png", home=home)
    assert done.code == 1
    assert done.err.splitlines()[-1].endswith(ADVICE)
    assert done.seconds < 2.0, f"took {done.seconds:.2f}s"

    missing = run_cli(
        "--store", store, "--clip-checkpoint", tmp_path / "vit.safetensors", "search",
        photo_folder / "coffee.png", home=home,
    )  # fmt: skip
    assert missing.code == 1
    assert "vit.safetensors" in missing.err


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGINT")
def test_ctrl_c_exits_130(store: Path, home: Path) -> None:
    # A server that answers only when told: the run is caught mid-download.
    asked, release = threading.Event(), threading.Event()

    def hold(request: RecordedRequest) -> Reply:
        asked.set()
        release.wait(60)
        return Reply(status=404)

    with LoopbackServer(hold) as server:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "img2img", "--store", str(store), "add",
                f"{server.url}/slow.png", "--allow-network", "127.0.0.0/8",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(home),
        )  # fmt: skip
        try:
            assert asked.wait(60), process.communicate(timeout=5)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
        finally:
            release.set()
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("img2img: interrupted")


def test_progress_shows_counts_on_a_terminal(store: Path, photos_copy: Path, home: Path) -> None:
    (photos_copy / "broken.jpg").write_bytes(b"not an image")
    done = run_cli("--store", store, "add", photos_copy, home=home, TTY_COMPATIBLE="1")
    assert done.code == 3, done.err
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.err)
    assert "Adding" in screen
    assert "16/16" in screen
    assert "15 indexed · 0 skipped · 1 failed" in screen
    quiet = run_cli("--store", store, "-q", "add", photos_copy, home=home, TTY_COMPATIBLE="1")
    assert "Adding" not in quiet.err
