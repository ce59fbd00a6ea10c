"""client.sync: a store kept in step with a folder, decided by content."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import HashEmbedder, ImageSearchClient, InMemoryStore
from img2img.sync import plan_sync


@pytest.fixture
def folder(photo_folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "pictures"
    target.mkdir()
    for name in ("coffee", "rocket", "moon", "clock"):
        shutil.copy(photo_folder / f"{name}.png", target / f"{name}.png")
    return target


@pytest.fixture
def client() -> ImageSearchClient:
    return ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore())


def by_path(client: ImageSearchClient, folder: Path) -> dict[str, str]:
    """Record ids by the file's path relative to ``folder``."""
    prefix = folder.resolve().as_uri() + "/"
    return {
        str(r.metadata["image_url"]).removeprefix(prefix): r.id
        for page in client.store.scan()
        for r in page
    }


def test_first_sync_adds_everything_and_the_second_reads_nothing(
    client: ImageSearchClient, folder: Path
) -> None:
    first = client.sync(folder, keyphrase="mine")
    assert (first.added, first.unchanged, first.failed) == (4, 0, 0)
    embedder = client.embedder
    assert isinstance(embedder, HashEmbedder)
    batches = list(embedder.image_batches)
    second = client.sync(folder)
    assert (second.added, second.updated, second.moved, second.deleted, second.unchanged) == (
        0,
        0,
        0,
        0,
        4,
    )
    assert embedder.image_batches == batches  # nothing embedded again


def test_edit_delete_rename_copy(client: ImageSearchClient, folder: Path) -> None:
    client.sync(folder)
    ids = by_path(client, folder)
    old_coffee = client.store.fetch([ids["coffee.png"]])[ids["coffee.png"]]
    embedder = client.embedder
    assert isinstance(embedder, HashEmbedder)
    embedded_before = sum(embedder.image_batches)

    Image.open(folder / "rocket.png").rotate(180).save(folder / "rocket.png")
    (folder / "moon.png").unlink()
    (folder / "coffee.png").rename(folder / "espresso.png")
    (folder / "sub").mkdir()
    shutil.copy(folder / "clock.png", folder / "sub" / "clock.png")
    report = client.sync(folder)

    assert (report.added, report.updated, report.moved, report.deleted, report.unchanged) == (
        0,
        1,
        2,
        1,
        1,
    )
    assert sum(embedder.image_batches) == embedded_before + 1  # only the edited file
    now = by_path(client, folder)
    assert sorted(now) == ["clock.png", "espresso.png", "rocket.png", "sub/clock.png"]
    espresso = client.store.fetch([now["espresso.png"]])[now["espresso.png"]]
    np.testing.assert_array_equal(espresso.vector, old_coffee.vector)
    assert espresso.metadata["sha256"] == old_coffee.metadata["sha256"]
    assert espresso.metadata["image_url"] == (folder / "espresso.png").resolve().as_uri()
    assert client.store.count() == 4


def test_a_touched_file_keeps_its_vector_and_a_same_stat_change_needs_checksum(
    client: ImageSearchClient, folder: Path
) -> None:
    bitmap = folder / "clock.bmp"  # a BMP's size depends only on its pixel count
    Image.open(folder / "clock.png").convert("RGB").save(bitmap)
    client.sync(folder)
    os.utime(bitmap, (1_700_000_000, 1_700_000_000))  # touched, same bytes
    touched = client.sync(folder)
    assert (touched.unchanged, touched.updated) == (5, 0)
    record_id = by_path(client, folder)["clock.bmp"]
    assert client.store.fetch([record_id])[record_id].metadata["file_mtime"] == 1_700_000_000

    # Same size and time, other pixels: only a checksum sync reads the file.
    edited = Image.open(bitmap).convert("RGB")
    edited.paste((255, 0, 0), (0, 0, 60, 60))
    size = bitmap.stat().st_size
    edited.save(bitmap)
    assert bitmap.stat().st_size == size
    os.utime(bitmap, (1_700_000_000, 1_700_000_000))
    assert client.sync(folder).updated == 0
    assert plan_sync(folder, client.store, checksum=True).changed == 1
    assert client.sync(folder, checksum=True).updated == 1
    assert client.sync(folder, checksum=True).updated == 0
