"""The img2img command, run in-process on real photos with the offline embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from img2img.cli.main import main
from img2img.testing.photos import edited_copy


def test_add_search_and_info(
    photo_folder: Path,
    photos: dict[str, Image.Image],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = ["--store", str(tmp_path / "cli.sqlite3"), "--embedder", "efficientnet"]
    assert (
        main([*common, "add", str(photo_folder / "coffee.png"), str(photo_folder / "rocket.png")])
        == 0
    )
    assert "indexed 2" in capsys.readouterr().out

    query = tmp_path / "q.jpg"
    edited_copy(photos["rocket"]).save(query)
    assert main([*common, "--json", "search", str(query), "-k", "2"]) == 0
    matches = json.loads(capsys.readouterr().out)
    assert matches[0]["title"] == "rocket.png"
    assert matches[0]["score"] > matches[1]["score"]

    assert (
        main([*common, "--json", "search", str(query), "--filter", '{"title": "coffee.png"}']) == 0
    )
    assert [m["title"] for m in json.loads(capsys.readouterr().out)] == ["coffee.png"]

    assert main([*common, "info"]) == 0
    assert (
        "2 images; embedding space: efficientnet-lite0/imagenet (1280-d)" in capsys.readouterr().out
    )


def test_errors_are_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SERPAPI_API_KEY", raising=False)
    code = main(
        ["--store", str(tmp_path / "s.sqlite3"), "--embedder", "efficientnet", "index", "cats"]
    )
    assert code == 1
    assert capsys.readouterr().err.startswith("img2img: error: SerpApiSource needs a SerpAPI key")


def test_python_dash_m_runs_the_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "img2img", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "usage: img2img" in done.stdout
    assert "search-text" in done.stdout
