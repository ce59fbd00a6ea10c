"""The command as a new user meets it: local files, piped tables, dry runs, exit codes, notes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from PIL import Image

from img2img.cli.main import main
from img2img.models import EmbeddingSpace, VectorRecord
from img2img.stores.local.store import LocalStore


@pytest.fixture
def deep_folder(photo_folder: Path, tmp_path: Path) -> Path:
    """Three photos under a folder path far longer than a terminal is wide."""
    folder = tmp_path.joinpath(*(["a-rather-long-folder-name"] * 8))
    folder.mkdir(parents=True)
    for name in ("coffee.png", "rocket.png", "chelsea.png"):
        (folder / name).write_bytes((photo_folder / name).read_bytes())
    return folder


def test_piped_tables_keep_one_row_a_line_and_whole_paths(
    store: Path, deep_folder: Path, home: Path
) -> None:
    assert run_cli("--store", store, "add", deep_folder, home=home).code == 0
    for command in (["list"], ["search", deep_folder / "coffee.png"]):
        done = run_cli("--store", store, *command, home=home, COLUMNS="80")
        assert done.code == 0, done.err
        rows = [line for line in done.out.splitlines() if ".png" in line]
        assert len(rows) == 3, done.out  # one line each, nothing folded
        for name in ("coffee.png", "rocket.png", "chelsea.png"):
            assert sum(str(deep_folder / name) in row for row in rows) == 1


def test_local_files_have_a_page_url_and_show_their_folder_not_localhost(
    store: Path, deep_folder: Path, home: Path
) -> None:
    assert run_cli("--store", store, "add", deep_folder, home=home).code == 0
    found = run_cli("--store", store, "--json", "search", deep_folder / "coffee.png", home=home)
    rows = found.json()
    assert rows[0]["page_url"] == (deep_folder / "coffee.png").resolve().as_uri()
    assert all(row["page_url"].startswith("file://") for row in rows)
    table = run_cli("--store", store, "search", deep_folder / "coffee.png", home=home).out
    assert "localhost" not in table
    assert str(deep_folder.resolve()) in table


def test_page_url_of_a_record_stored_without_one_is_its_file(tmp_path: Path) -> None:
    from img2img.models import Match

    url = (tmp_path / "x.png").as_uri()
    assert Match.from_metadata("i", 0.5, {"image_url": url}).page_url == url
    web = Match.from_metadata("i", 0.5, {"image_url": "https://a.example/x.png"})
    assert web.page_url is None


def test_delete_dry_run_lists_the_records_and_a_partial_delete_exits_3(
    store: Path, deep_folder: Path, home: Path
) -> None:
    assert run_cli("--store", store, "add", deep_folder, home=home).code == 0
    ids = [r["id"] for r in run_cli("--store", store, "--json", "list", home=home).json()]

    planned = run_cli("--store", store, "delete", ids[0], "--dry-run", home=home)
    assert planned.code == 0
    assert ids[0] in planned.out
    assert str(deep_folder) in planned.out  # which file the record is

    partial = run_cli("--store", store, "--json", "delete", ids[0], "f" * 32, home=home)
    assert partial.code == 3, partial.err
    assert partial.json()["deleted"] == [ids[0]]
    assert partial.json()["not_found"] == ["f" * 32]
    none = run_cli("--store", store, "delete", "e" * 32, home=home)
    assert none.code == 1


def test_sync_dry_run_names_the_files_and_records(
    store: Path, deep_folder: Path, home: Path
) -> None:
    assert run_cli("--store", store, "sync", deep_folder, home=home).code == 0
    ids = {
        r["title"]: r["id"] for r in run_cli("--store", store, "--json", "list", home=home).json()
    }
    (deep_folder / "coffee.png").rename(deep_folder / "morning.png")
    (deep_folder / "rocket.png").unlink()
    Image.new("RGB", (64, 48), "red").save(deep_folder / "new.png")

    plan = run_cli("--store", store, "--json", "sync", deep_folder, "--dry-run", home=home).json()
    assert plan["add"] == [str((deep_folder / "new.png").resolve())]
    assert plan["move"] == [
        {
            "id": ids["coffee.png"],
            "from": str((deep_folder / "coffee.png").resolve()),
            "to": str((deep_folder / "morning.png").resolve()),
        }
    ]
    assert plan["delete"] == [
        {"id": ids["rocket.png"], "path": str((deep_folder / "rocket.png").resolve())}
    ]
    table = run_cli("--store", store, "sync", deep_folder, "--dry-run", home=home).out
    assert ids["rocket.png"] in table
    assert "new.png" in table
    assert "would add 1, update 0, move 1, delete 1; 1 unchanged" in table


def test_add_exclude_leaves_out_names_folders_and_paths(
    store: Path, deep_folder: Path, home: Path
) -> None:
    (deep_folder / "drafts").mkdir()
    (deep_folder / "drafts" / "sketch.png").write_bytes((deep_folder / "coffee.png").read_bytes())
    done = run_cli(
        "--store",
        store,
        "--json",
        "add",
        deep_folder,
        "--exclude",
        "rocket.*",
        "--exclude",
        "drafts",
        home=home,
    )
    assert done.code == 0, done.err
    titles = {r["title"] for r in run_cli("--store", store, "--json", "list", home=home).json()}
    assert titles == {"coffee.png", "chelsea.png"}


def test_the_model_note_shows_once_and_only_where_the_model_is_used(
    store: Path, deep_folder: Path, home: Path
) -> None:
    assert run_cli("--store", store, "add", deep_folder, home=home).code == 0
    searched = run_cli("--store", store, "search", deep_folder / "coffee.png", home=home)
    assert searched.err.count("the model this store was built with") == 1
    for command in (["duplicates"], ["delete", "0" * 32, "--dry-run"], ["info"], ["list"]):
        done = run_cli("--store", store, *command, home=home)
        assert "the model this store was built with" not in done.err, command


def test_search_text_on_a_picture_only_store_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "efficientnet.sqlite3"
    with LocalStore(path) as store:
        store.set_embedding_space(EmbeddingSpace("efficientnet-lite0/imagenet", 1280))
        vector = np.ones(1280, np.float32) / np.sqrt(1280, dtype=np.float32)
        store.upsert([VectorRecord("a" * 32, vector, {"title": "x"})])
    assert main(["--store", str(path), "search-text", "a red bicycle"]) == 1
    err = capsys.readouterr().err
    assert "TextEmbedder" not in err
    assert f"img2img --store {path} search PHOTO" in err
    assert "--embedder clip add FOLDER" in err
    assert "search-text" in err


def test_reprs_are_short() -> None:
    from img2img import EfficientNetEmbedder
    from img2img.models import Match, PictureGroup, Posting

    metadata = {f"field{i}": "x" * 40 for i in range(20)}
    match = Match.from_metadata("a" * 32, 0.5, {**metadata, "page_url": "https://a.example/p"})
    assert len(repr(match)) < 160
    assert "https://a.example/p" in repr(match)
    group = PictureGroup((Posting.from_match(match, "exact"),) * 3)
    assert len(repr(group)) < 160
    assert "3 postings" in repr(group)
    assert repr(EfficientNetEmbedder()).startswith("EfficientNetEmbedder(model_id=")


def test_search_group_json_shape(store: Path, deep_folder: Path, home: Path) -> None:
    assert run_cli("--store", store, "add", deep_folder, home=home).code == 0
    done = run_cli(
        "--store", store, "--json", "search", deep_folder / "coffee.png", "--group", home=home
    )
    assert done.code == 0, done.err
    groups = json.loads(done.out)
    assert groups[0]["query_relation"] == "exact"  # the query's own bytes
    assert [g["query_relation"] for g in groups[1:]] == ["alike"] * (len(groups) - 1)


def test_locate_exits_3_only_when_something_asked_for_failed() -> None:
    from img2img.cli.commands.locating import exit_code_of
    from img2img.locate.results import LocateReport
    from img2img.models import Failure, LookupReport

    def report(*stages: str, verified: int = 2) -> LocateReport:
        failures = tuple(Failure(f"https://x.example/{s}.jpg", s, "why") for s in stages)  # type: ignore[arg-type]
        lookup = LookupReport(1, 0, 5, 5, 0, 0, 0.1)
        return LocateReport(lookup, 5, 0, 5, verified, 0, 0, 0, 0, failures, 0.2)

    assert exit_code_of(report()) == 0
    assert exit_code_of(report("fetch", "decode")) == 0  # pages gone: the web, not a failure
    assert exit_code_of(report("fetch", "store")) == 3  # a copy found but not kept
    assert exit_code_of(report("embed", verified=0)) == 1
