"""``img2img sync FOLDER`` after files are edited, deleted, renamed, copied and hidden."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_helpers import run_cli
from PIL import Image


def titles(store: Path, home: Path) -> dict[str, str]:
    listed = run_cli("--store", store, "list", "--all", "--json", home=home).json()
    return {record["title"]: record["id"] for record in listed}


def test_sync_follows_edits_deletions_and_renames(
    store: Path, photos_copy: Path, home: Path
) -> None:
    first = run_cli("--store", store, "sync", photos_copy, "--json", home=home)
    assert first.code == 0, first.err
    assert (first.json()["added"], first.json()["unchanged"]) == (15, 0)
    before = titles(store, home)

    rocket = photos_copy / "rocket.png"
    Image.open(rocket).rotate(90, expand=True).save(rocket)  # edited in place
    (photos_copy / "brick.png").unlink()  # deleted
    (photos_copy / "coffee.png").rename(photos_copy / "morning coffee.png")  # renamed
    (photos_copy / "album").mkdir()
    shutil.copy(photos_copy / "moon.png", photos_copy / "album" / "moon copy.png")  # copied
    (photos_copy / ".thumbnails").mkdir()
    shutil.copy(photos_copy / "clock.png", photos_copy / ".thumbnails" / "clock.png")  # hidden

    planned = run_cli("--store", store, "sync", photos_copy, "--dry-run", "--json", home=home)
    plan = planned.json()
    moves = {(m["from"], m["to"]) for m in plan.pop("move")}
    assert plan == {
        "folder": str(photos_copy.resolve()),
        "add": [],
        "update": [str((photos_copy / "rocket.png").resolve())],
        "delete": [{"id": before["brick.png"], "path": str((photos_copy / "brick.png").resolve())}],
        "unchanged": 12,
    }
    assert moves == {
        (str(photos_copy.resolve() / name), str(photos_copy.resolve() / to))
        for name, to in (("coffee.png", "morning coffee.png"), ("moon.png", "album/moon copy.png"))
    }
    assert titles(store, home) == before  # a dry run changes nothing

    synced = run_cli("--store", store, "sync", photos_copy, "--json", home=home)
    assert synced.code == 0, synced.err
    report = synced.json()
    counts = {k: report[k] for k in ("added", "updated", "moved", "deleted", "unchanged", "failed")}
    assert counts == {
        "added": 0,
        "updated": 1,
        "moved": 2,
        "deleted": 1,
        "unchanged": 12,
        "failed": 0,
    }

    after = titles(store, home)
    assert set(after) == set(before) - {"brick.png", "coffee.png"} | {
        "morning coffee.png",
        "moon copy.png",
    }
    found = run_cli("--store", store, "search", rocket, "-k", "1", "--json", home=home).json()
    assert (found[0]["title"], round(found[0]["score"], 4)) == ("rocket.png", 1.0)
    renamed = run_cli(
        "--store",
        store,
        "search",
        photos_copy / "morning coffee.png",
        "-k",
        "1",
        "--json",
        home=home,
    ).json()
    assert renamed[0]["id"] == after["morning coffee.png"]
    assert renamed[0]["score"] > 0.9999

    again = run_cli("--store", store, "sync", photos_copy, "--json", home=home)
    assert (again.code, again.json()["unchanged"], again.json()["added"]) == (0, 15, 0)


def test_sync_of_a_missing_folder_is_an_error(store: Path, home: Path, tmp_path: Path) -> None:
    done = run_cli("--store", store, "sync", tmp_path / "nowhere", home=home)
    assert done.code == 1
    assert "sync needs a folder" in done.err
