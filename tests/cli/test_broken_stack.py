"""A model stack that cannot run ends the command in one line and leaves no store behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import img2img

SOURCE = str(Path(img2img.__file__).resolve().parent.parent)


def run(
    args: list[str], tmp_path: Path, broken: Path | None = None
) -> subprocess.CompletedProcess[str]:
    path = [str(broken)] if broken else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*path, SOURCE]),
        "IMG2IMG_CACHE_DIR": str(tmp_path / "cache"),
        "HOME": str(tmp_path / "home"),
    }
    return subprocess.run(
        [sys.executable, "-m", "img2img", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index, colour in enumerate(["red", "green", "blue", "yellow", "purple"]):
        image = Image.new("RGB", (64, 48), colour)
        image.paste((index * 40, 0, 0), (5, 5, 25, 25))
        image.save(folder / f"{index}.png")
    return folder


@pytest.mark.parametrize(
    "failure",
    [
        'raise RuntimeError("operator torchvision::nms does not exist")',
        'raise OSError("libonnxruntime.so: cannot open shared object file")',
    ],
)
def test_a_broken_runtime_is_one_line_and_the_next_run_works(
    tmp_path: Path, pictures: Path, failure: str
) -> None:
    broken = tmp_path / "broken"
    (broken / "onnxruntime").mkdir(parents=True)
    (broken / "onnxruntime" / "__init__.py").write_text(failure + "\n")
    store = tmp_path / "store.sqlite3"
    args = ["--store", str(store), "--embedder", "efficientnet", "add", str(pictures)]

    failed = run(args, tmp_path, broken)
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, failed.stderr
    assert "onnxruntime is installed but broken" in lines[0]
    assert "pip install --force-reinstall onnxruntime" in lines[0]
    assert not store.exists()  # nothing half-made for the next run to trip on

    repaired = run(args, tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    info = run(["--store", str(store), "--json", "info"], tmp_path)
    assert "efficientnet-lite0/imagenet" in info.stdout
    assert json.loads(info.stdout)["by_source"] == {"file": 5}
