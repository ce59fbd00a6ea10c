"""``img2img postings`` and ``img2img duplicates`` on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from img2img.cli.main import main
from img2img.testing.edits import apply_edit


@pytest.fixture
def store_with_copies(photos: dict[str, Image.Image], tmp_path: Path) -> list[str]:
    folder = tmp_path / "posts"
    folder.mkdir()
    photos["coffee"].save(folder / "coffee.png")
    apply_edit(photos["coffee"], "crop70").save(folder / "coffee-crop.jpg")
    photos["rocket"].save(folder / "rocket.png")
    photos["chelsea"].save(folder / "chelsea.png")
    common = ["--store", str(tmp_path / "cli.sqlite3"), "--embedder", "efficientnet"]
    assert main([*common, "add", str(folder)]) == 0
    return common


def test_postings_lists_verified_copies(
    store_with_copies: list[str],
    photos: dict[str, Image.Image],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    query = tmp_path / "query.jpg"
    apply_edit(photos["coffee"], "text").save(query)

    assert main([*store_with_copies, "--json", "postings", str(query)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {p["title"] for p in answer["postings"]} == {"coffee.png", "coffee-crop.jpg"}
    assert all(p["relation"] == "copy" for p in answer["postings"])
    assert answer["postings"][0]["evidence"]["inliers"] >= 15
    assert answer["unverified"] == []
    assert answer["candidates"] == 4

    # Options after the subcommand, as everywhere in the command.
    assert main(["postings", str(query), "--sort", "size", *store_with_copies]) == 0
    out = capsys.readouterr().out
    assert "points agree over" in out  # the evidence column
    assert "copy" in out
    assert "coffee" in out


def test_duplicates_prints_groups(
    store_with_copies: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main([*store_with_copies, "--json", "duplicates"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert [sorted(p["title"] for p in g["postings"]) for g in groups] == [
        ["coffee-crop.jpg", "coffee.png"]
    ]
    assert main([*store_with_copies, "duplicates"]) == 0
    assert "picture 1: 2 postings" in capsys.readouterr().out
