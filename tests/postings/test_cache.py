"""PictureCache: thumbnails and features by record id, kept across processes."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import (
    EfficientNetEmbedder,
    HashEmbedder,
    ImageSearchClient,
    InMemoryStore,
    LocalStore,
    PictureCache,
    StoreFormatError,
)
from img2img.images import decode_image
from img2img.postings.cache import KEPT_AS_DOWNLOADED_BYTES, cache_for_store, default_cache_path
from img2img.postings.features import FEATURE_SIDE, extract_features
from img2img.provenance import image_id


def test_a_thumbnail_becomes_features_once_and_survives_reopening(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    path = tmp_path / "pictures.sqlite3"
    with PictureCache(path) as cache:
        cache.put_image("a", photos["rocket"])
        assert "a" in cache
        assert "b" not in cache
        assert cache.features("b") is None
        first = cache.features("a")
        assert first is not None
        assert len(first) > 100
        assert first.source_size == photos["rocket"].size
        thumbnail = cache.thumbnail("a")
        assert thumbnail is not None
        assert max(thumbnail.size) <= 512
    with PictureCache(path) as reopened:
        again = reopened.features("a")
        assert again is not None
        np.testing.assert_array_equal(again.descriptors, first.descriptors)
        np.testing.assert_array_equal(again.points, first.points)
        assert (again.size, again.source_size) == (first.size, first.source_size)
        assert reopened.count() == 1
        reopened.delete(["a", "unknown"])
        assert reopened.count() == 0


def test_an_undecodable_thumbnail_is_dropped_not_raised(
    photos: dict[str, Image.Image], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "pictures.sqlite3"
    with PictureCache(path) as cache:
        cache.put_image("a", photos["coffee"])
    with sqlite3.connect(path) as con:
        con.execute("UPDATE pictures SET thumbnail = x'ffd8ffe0deadbeef'")
    with PictureCache(path) as cache:
        assert cache.features("a") is None
        assert "a" not in cache  # forgotten, so the caller downloads it again
    assert "unreadable" in caplog.text


def test_unreadable_features_are_computed_again_from_the_thumbnail(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    path = tmp_path / "pictures.sqlite3"
    with PictureCache(path) as cache:
        cache.put_image("a", photos["coffee"])
        assert cache.features("a") is not None
    with sqlite3.connect(path) as con:
        con.execute("UPDATE pictures SET features = x'0102'")
    with PictureCache(path) as cache:
        features = cache.features("a")
        assert features is not None
        assert len(features) > 100


def test_features_of_another_version_are_forgotten_thumbnails_kept(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    path = tmp_path / "pictures.sqlite3"
    with PictureCache(path) as cache:
        cache.put_image("a", photos["coffee"])
        cache.features("a")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE cache_meta SET value = 'sift-old' WHERE key = 'features'")
    with PictureCache(path) as cache:
        [(blob,)] = cache._execute("SELECT features FROM pictures")
        assert blob is None
        assert cache.features("a") is not None


def test_a_file_that_is_not_a_cache_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(StoreFormatError, match="not an img2img picture cache"):
        PictureCache(path)
    assert path.read_bytes().startswith(b"these are my notes")


def test_features_can_be_stored_directly(photos: dict[str, Image.Image]) -> None:
    with PictureCache(":memory:") as cache:
        features = extract_features(photos["chelsea"])
        cache.put_features("x", features, None)
        cached = cache.features("x")
        assert cached is not None
        assert len(cached) == len(features)
        assert cache.thumbnail("x") is None
        # The sketch the dense check lays under a fit is kept with the keypoints.
        assert features.sketch is not None
        assert cached.sketch is not None
        assert np.array_equal(cached.sketch, features.sketch)


def test_where_the_cache_lives_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalStore(tmp_path / "index.sqlite3") as store, cache_for_store(store) as cache:
        assert cache.path == tmp_path / "index.pictures.sqlite3"
    with cache_for_store(InMemoryStore()) as cache:
        assert cache.path == ":memory:"
    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / "pictures.sqlite3"
    monkeypatch.delenv("IMG2IMG_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "img2img" / "pictures.sqlite3"


def test_indexing_fills_the_cache_unless_told_not_to(photo_folder: Path, tmp_path: Path) -> None:
    with ImageSearchClient(
        embedder=HashEmbedder(), store=LocalStore(tmp_path / "index.sqlite3")
    ) as client:
        report = client.add([photo_folder])
        assert client.pictures.count() == report.indexed
        client.store.close()
    assert (tmp_path / "index.pictures.sqlite3").is_file()
    with ImageSearchClient(
        embedder=HashEmbedder(), store=InMemoryStore(), cache_pictures=False
    ) as client:
        client.add([photo_folder])
        assert client.pictures.count() == 0


def test_a_big_photo_indexed_is_cached_at_the_full_feature_side(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    # Decoding draws big photos at a reduced size: the cached thumbnail must
    # still be the whole picture at the side features are computed on.
    big = photos["astronaut"].resize((1600, 1200), Image.Resampling.BICUBIC)
    path = tmp_path / "big.jpg"
    big.save(path, quality=92)
    with ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore()) as client:
        assert client.add([path]).indexed == 1
        id = image_id(path.as_uri())
        thumbnail = client.pictures.thumbnail(id)
        features = client.pictures.features(id)
    assert thumbnail is not None
    assert thumbnail.size == (FEATURE_SIDE, FEATURE_SIDE * 3 // 4)
    expected = np.asarray(big.resize(thumbnail.size, Image.Resampling.LANCZOS), dtype=np.int16)
    assert np.abs(np.asarray(thumbnail, dtype=np.int16) - expected).mean() < 4
    assert features is not None
    assert features.source_size == (1600, 1200)


def test_a_small_jpeg_indexed_is_cached_as_it_came(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    path = tmp_path / "chelsea.jpg"
    photos["chelsea"].save(path, quality=85)  # 451 x 300: within the feature side
    with ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore()) as client:
        assert client.add([path]).indexed == 1
        thumbnail = client.pictures.thumbnail(image_id(path.as_uri()))
    assert thumbnail is not None
    # Not encoded again: the very pixels that were indexed, no second JPEG loss.
    np.testing.assert_array_equal(
        np.asarray(thumbnail), np.asarray(decode_image(path.read_bytes()))
    )


def test_only_small_jpegs_are_kept_as_they_came(photos: dict[str, Image.Image]) -> None:
    def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        return buffer.getvalue()

    cache = PictureCache(":memory:")
    small = photos["chelsea"]
    jpeg = saved(small, "JPEG", quality=85)
    assert cache.shrink(decode_image(jpeg), jpeg) == jpeg
    assert cache.shrink(decode_image(jpeg)) != jpeg  # bytes unknown: encoded
    png = saved(small, "PNG")
    assert cache.shrink(decode_image(png), png) != png
    big = saved(photos["retina"], "JPEG", quality=85)  # 1411 px: shrunk when decoded
    assert cache.shrink(decode_image(big), big) != big
    heavy = saved(photos["astronaut"], "JPEG", quality=100, subsampling=0)  # 512 px
    assert len(heavy) > KEPT_AS_DOWNLOADED_BYTES
    assert cache.shrink(decode_image(heavy), heavy) != heavy
    for kept in (cache.shrink(decode_image(png), png), cache.shrink(decode_image(big), big)):
        assert kept is not None
        assert max(Image.open(io.BytesIO(kept)).size) <= FEATURE_SIDE


def test_find_postings_on_a_store_never_written_is_empty(
    efficientnet: EfficientNetEmbedder, photos: dict[str, Image.Image]
) -> None:
    client = ImageSearchClient(embedder=efficientnet, store=InMemoryStore())
    result = client.find_postings(photos["coffee"])
    assert len(result) == 0
    assert result.candidates == 0
    assert list(client.duplicates()) == []


class _AStore:
    """A store of someone else's: no ``picture_cache_path``."""


class _AnotherStore:
    pass


class _NamedStore:
    def __init__(self, name: str) -> None:
        self.name = name

    def picture_cache_path(self) -> str:
        return f"named-{self.name}.pictures.sqlite3"


def test_each_store_has_a_cache_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from img2img.stores.pinecone.store import PineconeStore

    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home"
    paths = []
    for store in (
        _AStore(),
        _AnotherStore(),
        _NamedStore("a"),
        _NamedStore("b"),
        PineconeStore("photos", api_key="k", namespace="2024"),
        PineconeStore("photos", api_key="k", namespace="2025"),
    ):
        with cache_for_store(store) as cache:
            assert isinstance(cache.path, Path)
            assert cache.path.parent == folder
            assert cache.path != default_cache_path()
            paths.append(cache.path)
    assert len(set(paths)) == len(paths)
    assert paths[2].name == "named-a.pictures.sqlite3"
    assert paths[4].name == "pinecone-photos-2024.pictures.sqlite3"
