"""Each subcommand run in a new process, its JSON parsed, its exit code checked.

The store records the test embedder, so these runs rebuild it from the store
(the command's own rule) and need no model weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli
from PIL import Image

from img2img.testing.photos import edited_copy

PHOTOS = 15


def test_add_then_search_finds_the_original_first(
    store: Path, photos_copy: Path, home: Path
) -> None:
    added = run_cli(
        "--store", store, "add", photos_copy, "--keyphrase", "samples", "--json", home=home
    )
    assert added.code == 0, added.err
    report = added.json()
    assert (report["discovered"], report["indexed"], report["failed"]) == (PHOTOS, PHOTOS, 0)
    assert report["store"] == str(store)
    assert added.err.count("Using hash/64/seed-0, the model this store was built with.") == 1

    again = run_cli("add", photos_copy, "--store", store, "--json", home=home)
    assert (again.code, again.json()["skipped"]) == (0, PHOTOS)

    query = home / "query.png"
    Image.open(photos_copy / "rocket.png").save(query)
    found = run_cli("--json", "--store", store, "search", query, "-k", "3", home=home)
    assert found.code == 0, found.err
    matches = found.json()
    assert [m["rank"] for m in matches] == [1, 2, 3]
    assert matches[0]["title"] == "rocket.png"
    assert matches[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert matches[0]["keyphrase"] == "samples"
    assert matches[0]["image_url"] == (photos_copy / "rocket.png").resolve().as_uri()


def test_search_prints_rank_score_title_site_and_link(
    store: Path, photos_copy: Path, home: Path
) -> None:
    assert run_cli("--store", store, "add", photos_copy / "coffee.png", home=home).code == 0
    shown = run_cli("--store", store, "search", photos_copy / "coffee.png", home=home)
    assert shown.code == 0, shown.err
    header, _, row = shown.out.splitlines()[:3]
    assert header.split() == ["#", "┃", "score", "┃", "title", "┃", "site", "┃", "link"]
    folder = str(photos_copy.resolve())  # a local file's site is its folder, not "localhost"
    assert row.split()[:8] == ["1", "│", "1.000", "│", "coffee.png", "│", folder, "│"]
    assert row.split()[8] == str((photos_copy / "coffee.png").resolve())


def test_search_text_filter_and_min_score(store: Path, photos_copy: Path, home: Path) -> None:
    assert run_cli("--store", store, "-q", "add", photos_copy, home=home).code == 0
    words = run_cli("--store", store, "search-text", "a cat", "-k", "4", "--json", home=home)
    assert words.code == 0, words.err
    assert len(words.json()) == 4
    only = run_cli(
        "--store", store, "search", photos_copy / "coffee.png", "--json",
        "--filter", '{"title": {"$in": ["moon.png", "clock.png"]}}', home=home,
    )  # fmt: skip
    assert sorted(m["title"] for m in only.json()) == ["clock.png", "moon.png"]
    strict = run_cli(
        "--store", store, "search", photos_copy / "coffee.png", "--min-score", "0.99", "--json",
        home=home,
    )  # fmt: skip
    assert [m["title"] for m in strict.json()] == ["coffee.png"]


def test_info_counts_by_keyphrase_domain_and_source(
    store: Path, photos_copy: Path, home: Path
) -> None:
    names = ["coffee.png", "moon.png", "clock.png"]
    run_cli(
        "--store",
        store,
        "add",
        *(photos_copy / n for n in names[:2]),
        "--keyphrase",
        "a",
        home=home,
    )
    run_cli("--store", store, "add", photos_copy / names[2], home=home)
    for argv in (("--json", "info"), ("info", "--json"), ("stats", "--json")):
        info = run_cli("--store", store, *argv, home=home)
        assert info.code == 0, info.err
        data = info.json()
        assert data["count"] == 3
        assert (data["model"], data["dimension"]) == ("hash/64/seed-0", 64)
        assert data["by_keyphrase"] == {"a": 2, "(none)": 1}
        assert data["by_domain"] == {"localhost": 3}
        assert data["by_source"] == {"file": 3}
        assert data["store"] == str(store)
        assert data["kind"] == "local"
        assert data["size_bytes"] >= store.stat().st_size > 0
    table = run_cli("--store", store, "info", home=home)
    assert "hash/64/seed-0" in table.out
    assert "keyphrase" in table.out
    assert "(none)" in table.out


def test_list_filters_and_limits(store: Path, photos_copy: Path, home: Path) -> None:
    run_cli("--store", store, "add", photos_copy, "--keyphrase", "k1", home=home)
    everything = run_cli("--store", store, "list", "--all", "--json", home=home)
    assert everything.code == 0, everything.err
    assert len(everything.json()) == PHOTOS
    assert len(run_cli("--store", store, "list", "-n", "4", "--json", home=home).json()) == 4
    moon = run_cli(
        "--store", store, "list", "--json", "--filter", '{"title": "moon.png"}', home=home
    ).json()
    assert [r["title"] for r in moon] == ["moon.png"]
    assert run_cli("--store", store, "list", "--keyphrase", "k2", "--json", home=home).json() == []
    shown = run_cli("--store", store, "list", "-n", "2", home=home)
    assert f"… {PHOTOS - 2} more" in shown.out


def test_delete_by_id_keyphrase_domain_and_filter(
    store: Path, photos_copy: Path, home: Path
) -> None:
    run_cli("--store", store, "add", photos_copy, "--keyphrase", "k1", home=home)
    records = run_cli("--store", store, "list", "--all", "--json", home=home).json()
    by_title = {r["title"]: r["id"] for r in records}

    dry = run_cli(
        "--store", store, "delete", by_title["moon.png"], "--dry-run", "--json", home=home
    )
    assert (dry.code, dry.json()["would_delete"]) == (0, [by_title["moon.png"]])
    gone = run_cli("--store", store, "delete", by_title["moon.png"], "--json", home=home)
    assert (gone.code, gone.json()["deleted"]) == (0, [by_title["moon.png"]])

    unknown = run_cli("--store", store, "delete", "no-such-id", home=home)
    assert unknown.code == 1
    assert "no record with id no-such-id" in unknown.err

    some = run_cli(
        "--store", store, "delete", "--filter", '{"title": {"$in": ["clock.png", "coins.png"]}}',
        "--json", home=home,
    )  # fmt: skip
    assert some.json()["count"] == 2
    assert (
        run_cli("--store", store, "delete", "--domain", "example.com", "--json", home=home).json()[
            "count"
        ]
        == 0
    )
    rest = run_cli("--store", store, "delete", "--keyphrase", "k1", "--json", home=home)
    assert rest.json()["count"] == PHOTOS - 3
    assert run_cli("--store", store, "info", "--json", home=home).json()["count"] == 0

    nothing = run_cli("--store", store, "delete", home=home)
    assert nothing.code == 2
    assert "say what to delete" in nothing.err


def test_read_commands_refuse_a_store_that_does_not_exist(home: Path, tmp_path: Path) -> None:
    typo = tmp_path / "indx.sqlite3"
    for argv in (
        ("info",),
        ("list",),
        ("search", "q.jpg"),
        ("search-text", "cat"),
        ("delete", "x"),
    ):
        done = run_cli("--store", typo, *argv, home=home)
        assert done.code == 1, argv
        assert done.err.strip() == (
            f"img2img: error: no store at {typo}: check --store, or create one with 'img2img add'"
        )
    assert not typo.exists()


def test_exit_codes_for_partial_total_and_empty_failure(
    store: Path, photos_copy: Path, home: Path, tmp_path: Path
) -> None:
    (photos_copy / "broken.jpg").write_bytes(b"not a picture")
    partial = run_cli("--store", store, "add", photos_copy, "--json", home=home)
    assert partial.code == 3, partial.err
    assert (partial.json()["indexed"], partial.json()["failed"]) == (PHOTOS, 1)
    assert partial.json()["failures"][0]["stage"] == "decode"

    allbad = run_cli("--store", store, "add", photos_copy / "broken.jpg", home=home)
    assert allbad.code == 1
    assert "broken.jpg" in allbad.out

    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("no pictures here")
    nothing = run_cli("--store", store, "add", empty, home=home)
    assert nothing.code == 1
    assert nothing.err.strip().endswith(f"img2img: error: found no images in {empty}")


def test_usage_errors_exit_2(store: Path, home: Path) -> None:
    for argv in (
        ("search", "q.jpg", "-k", "0"),
        ("search", "q.jpg", "--filter", "{not json"),
        ("index", "cats", "-n", "0"),
        ("info", "--no-such-option"),
        ("frobnicate",),
        (),
    ):
        done = run_cli("--store", store, *argv, home=home)
        assert done.code == 2, (argv, done.err)
        assert "usage: img2img" in done.err


def test_version_and_python_dash_m(home: Path) -> None:
    from img2img import __version__

    version = run_cli("--version", home=home)
    assert (version.code, version.out.strip()) == (0, f"img2img {__version__}")
    helped = run_cli("--help", home=home)
    assert helped.code == 0
    for name in ("add", "index", "sync", "search", "search-text", "info", "list", "delete"):
        assert f"    {name}" in helped.out
    said = " ".join(helped.out.split())
    assert (
        "exit codes: 0 done, 1 error, 2 usage, 3 some items failed, 10 watch check found "
        "something new or gone, 130 interrupted" in said
    )


def test_edited_copy_is_found_by_the_offline_model_remembered_by_the_store(
    photos_copy: Path, home: Path, tmp_path: Path
) -> None:
    """The real offline model, end to end: chosen once, then read from the store."""
    store = tmp_path / "effnet.sqlite3"
    for name in ("coins", "moon", "clock", "brick", "camera", "logo", "colorwheel", "retina"):
        (photos_copy / f"{name}.png").unlink()  # seven photos are enough, and quicker
    added = run_cli("--store", store, "--embedder", "efficientnet", "add", photos_copy, home=home)
    assert added.code == 0, added.err
    assert f"Creating a new store at {store}" in added.err
    query = tmp_path / "copy.jpg"
    edited_copy(Image.open(photos_copy / "chelsea.png").convert("RGB")).save(query)

    found = run_cli("search", query, "--store", store, "--json", home=home)
    assert found.code == 0, found.err
    assert found.json()[0]["title"] == "chelsea.png"
    assert found.err.count("the model this store was built with") == 1

    clip = run_cli("search", query, "--store", store, "--embedder", "clip", home=home)
    assert clip.code == 1
    assert "this store holds vectors of efficientnet-lite0/imagenet" in clip.err
