"""``--html``, ``search --group``, the verifier's thresholds and ``--min-score`` on the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from img2img.cli.main import main
from img2img.testing.edits import apply_edit


@pytest.fixture(scope="module")
def store(photos: dict[str, Image.Image], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("posts")
    photos["coffee"].save(folder / "coffee.png")
    apply_edit(photos["coffee"], "crop70").save(folder / "coffee-crop.jpg")
    photos["rocket"].save(folder / "rocket.png")
    photos["chelsea"].save(folder / "chelsea.png")
    common = ["--store", str(folder / "cli.sqlite3"), "--embedder", "efficientnet", "-q"]
    assert main([*common, "add", str(folder)]) == 0
    return common


@pytest.fixture(scope="module")
def query(photos: dict[str, Image.Image], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query") / "query.jpg"
    apply_edit(photos["coffee"], "text").save(path)
    return path


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["postings", "{query}"], "Where this picture is posted"),
        (["search", "{query}"], "Stored images like this"),
        (["search", "{query}", "--group"], "Pictures like this one"),
        (["duplicates"], "Pictures stored more than once"),
    ],
)
def test_html_writes_a_report_beside_the_usual_answer(
    store: list[str],
    query: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    expected: str,
) -> None:
    capsys.readouterr()
    target = tmp_path / "report.html"
    args = [part.format(query=query) for part in command]
    assert main([*store, *args, "--html", str(target)]) == 0
    html = target.read_text(encoding="utf-8")
    assert expected in html
    assert "data:image/jpeg;base64," in html
    assert capsys.readouterr().out  # the table is still printed


def test_grouped_search_says_which_group_is_the_query_picture(
    store: list[str], query: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main([*store, "--json", "search", str(query), "-k", "3", "--group"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert groups[0]["query_relation"] == "copy"  # the text overlay is not the query's bytes
    assert groups[0]["postings"][0]["relation"] == "copy"
    assert {p["title"] for p in groups[0]["postings"]} == {"coffee.png", "coffee-crop.jpg"}
    for group in groups[1:]:
        assert group["query_relation"] == "alike"  # another picture: never "exact"
        assert group["postings"][0]["relation"] == "alike"
    assert main([*store, "search", str(query), "-k", "3", "--group"]) == 0
    out = capsys.readouterr().out
    assert "the query's picture" in out
    assert "another picture" in out


def test_grouped_search_calls_exact_only_the_query_bytes(
    store: list[str],
    photos: dict[str, Image.Image],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    own = tmp_path / "coffee.png"
    photos["coffee"].save(own)  # the same encoder, the same bytes as the stored file
    capsys.readouterr()
    assert main([*store, "--json", "search", str(own), "-k", "2", "--group"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert groups[0]["query_relation"] == "exact"
    assert groups[1]["query_relation"] == "alike"


def test_verifier_thresholds_can_be_set(
    store: list[str], query: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main([*store, "--json", "postings", str(query), "--min-inliers", "100000"]) == 0
    assert json.loads(capsys.readouterr().out)["postings"] == []
    assert main([*store, "--json", "duplicates", "--min-coverage", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main([*store, "postings", str(query), "--min-coverage", "1.5"]) == 2
    assert "from 0 to 1" in capsys.readouterr().err


@pytest.mark.parametrize("score", ["2", "-1.5", "nan", "x"])
def test_min_score_outside_minus_one_to_one_is_a_usage_error(
    store: list[str], query: Path, capsys: pytest.CaptureFixture[str], score: str
) -> None:
    assert main([*store, "search", str(query), "--min-score", score]) == 2
    assert "--min-score" in capsys.readouterr().err


def test_a_mockup_of_the_query_is_its_picture_warped_in_every_table(
    store: list[str],
    photos: dict[str, Image.Image],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from img2img.testing.reposts import apply_repost

    mockup = tmp_path / "mockup.jpg"
    apply_repost(photos["coffee"], "perspective12", others=[photos["astronaut"]]).save(mockup)
    capsys.readouterr()
    assert main([*store, "--json", "search", str(mockup), "-k", "2", "--group"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert groups[0]["query_relation"] == "warped"
    assert groups[0]["postings"][0]["evidence"]["model"] == "perspective"
    assert main([*store, "search", str(mockup), "-k", "2", "--group"]) == 0
    assert "the query's picture (warped)" in capsys.readouterr().out
    assert main([*store, "postings", str(mockup)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "coffee" in line]
    assert rows
    assert all("warped" in row and "perspective fit" in row for row in rows)
