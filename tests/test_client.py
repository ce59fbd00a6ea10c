"""ImageSearchClient end to end with fast, deterministic parts."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from PIL import Image

from img2img import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    HashEmbedder,
    ImageCandidate,
    ImageSearchClient,
    InMemoryStore,
    StaticSource,
)
from img2img.provenance import image_id
from img2img.testing.photos import edited_copy


@pytest.fixture
def client() -> ImageSearchClient:
    return ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), batch_size=4)


def test_add_folder_then_find_each_photo_first(
    client: ImageSearchClient, photo_folder: Path
) -> None:
    report = client.add([photo_folder])
    files = sorted(photo_folder.glob("*.png"))
    assert (report.discovered, report.indexed, report.failed) == (len(files), len(files), 0)
    for path in files:
        best = client.search(path, k=1)[0]
        assert best.image_url == path.resolve().as_uri()
        assert best.score == pytest.approx(1.0, abs=1e-5)


def test_search_accepts_path_str_bytes_and_pil(
    client: ImageSearchClient, photo_folder: Path
) -> None:
    path = photo_folder / "chelsea.png"
    client.add([path])
    as_pil = Image.open(path)
    for query in (path, str(path), path.read_bytes(), as_pil):
        assert client.search(query, k=1)[0].title == "chelsea.png"


def test_adding_again_skips_what_is_stored(client: ImageSearchClient, photo_folder: Path) -> None:
    first = client.add([photo_folder])
    again = client.add([photo_folder])
    assert again.indexed == 0
    assert again.skipped == first.indexed
    assert client.store.count() == first.indexed
    forced = client.add([photo_folder], reindex=True)
    assert forced.indexed == first.indexed
    assert client.store.count() == first.indexed


def test_one_bad_item_never_sinks_the_run(
    client: ImageSearchClient, photo_folder: Path, tmp_path: Path
) -> None:
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("this is not a picture")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes((photo_folder / "coffee.png").read_bytes()[:200])
    missing = tmp_path / "missing.png"
    report = client.add(
        [photo_folder / "rocket.png", not_image, truncated, missing, "gopher://x/y.png"]
    )
    assert report.indexed == 1
    stages = {Path(f.url).name: f.stage for f in report.failures}
    assert stages == {
        "notes.jpg": "decode",
        "truncated.png": "decode",
        "missing.png": "fetch",
        "y.png": "fetch",
    }
    assert all(f.reason for f in report.failures)
    assert report.discovered == 5


def test_index_records_provenance(photos: dict[str, Image.Image], tmp_path: Path) -> None:
    path = tmp_path / "astronaut.png"
    photos["astronaut"].save(path)
    candidate = ImageCandidate(
        image_url=path.as_uri(),
        page_url="https://nasa.example/gallery/1",
        title="Astronaut portrait",
        domain="nasa.example",
        position=3,
        extra={"source_name": "NASA"},
    )
    client = ImageSearchClient(
        source=StaticSource([candidate]), embedder=HashEmbedder(), store=InMemoryStore()
    )
    report = client.index("astronaut portrait")
    assert report.indexed == 1
    assert report.keyphrase == "astronaut portrait"
    (match,) = client.search(photos["astronaut"], k=1)
    assert match.id == image_id(path.as_uri())
    assert (match.page_url, match.title, match.domain, match.keyphrase) == (
        "https://nasa.example/gallery/1",
        "Astronaut portrait",
        "nasa.example",
        "astronaut portrait",
    )
    md = match.metadata
    assert md["source_name"] == "NASA"
    assert md["position"] == 3
    assert (md["width"], md["height"]) == (512, 512)
    assert len(str(md["sha256"])) == 64
    assert len(str(md["dhash"])) == 16
    assert isinstance(md["indexed_at"], int)


def test_filter_and_min_score(
    client: ImageSearchClient, photo_folder: Path, photos: dict[str, Image.Image]
) -> None:
    client.add([photo_folder / "chelsea.png"], keyphrase="cats")
    client.add([photo_folder / "coffee.png", photo_folder / "rocket.png"], keyphrase="things")
    query = photos["chelsea"]
    assert client.search(query, k=3, filter={"keyphrase": "cats"})[0].title == "chelsea.png"
    assert {m.title for m in client.search(query, k=3, filter={"keyphrase": "things"})} == {
        "coffee.png",
        "rocket.png",
    }
    strict = client.search(query, k=3, min_score=0.999)
    assert [m.title for m in strict] == ["chelsea.png"]


def test_batches_are_bounded(photo_folder: Path) -> None:
    embedder = HashEmbedder()
    client = ImageSearchClient(embedder=embedder, store=InMemoryStore(), batch_size=4, workers=3)
    report = client.add([photo_folder])
    assert sum(embedder.image_batches) == report.indexed
    assert max(embedder.image_batches) <= 4


def test_store_of_another_model_is_refused_with_both_names(photo_folder: Path) -> None:
    store = InMemoryStore()
    ImageSearchClient(embedder=HashEmbedder(seed=1), store=store).add([photo_folder / "coins.png"])
    other = ImageSearchClient(embedder=HashEmbedder(seed=2), store=store)
    with pytest.raises(EmbeddingSpaceMismatchError, match=r"hash/64/seed-1.*hash/64/seed-2"):
        other.add([photo_folder / "moon.png"])
    with pytest.raises(EmbeddingSpaceMismatchError):
        other.search(photo_folder / "moon.png")
    assert store.count() == 1


def test_search_on_an_empty_store_is_empty(
    client: ImageSearchClient, photos: dict[str, Image.Image]
) -> None:
    assert client.search(photos["coffee"]) == []


def test_search_by_text_needs_a_text_embedder(photo_folder: Path) -> None:
    embedder = HashEmbedder()
    client = ImageSearchClient(embedder=embedder, store=InMemoryStore())
    client.add([photo_folder])
    assert len(client.search_text("a cat on a rug", k=3)) == 3
    assert embedder.text_batches == [1]

    class ImagesOnly:
        model_id = "images-only"
        dimension = 64

        def embed_images(self, images):  # type: ignore[no-untyped-def]
            return embedder.embed_images(images)

    with pytest.raises(ConfigurationError, match="cannot embed text"):
        ImageSearchClient(embedder=ImagesOnly(), store=InMemoryStore()).search_text("cat")


def test_bad_arguments_are_refused(client: ImageSearchClient) -> None:
    with pytest.raises(ConfigurationError):
        ImageSearchClient(embedder=HashEmbedder(), workers=0)
    with pytest.raises(ConfigurationError):
        client.index("   ")
    with pytest.raises(ConfigurationError, match=r"a path, a URL, bytes"):
        client.search(12345)  # type: ignore[arg-type]


def test_edited_copy_is_nearest_with_hash_embedder(
    client: ImageSearchClient, photo_folder: Path, photos: dict[str, Image.Image]
) -> None:
    client.add([photo_folder])
    buffer = io.BytesIO()
    edited_copy(photos["rocket"]).save(buffer, format="JPEG")
    assert client.search(buffer.getvalue(), k=1)[0].title == "rocket.png"


def test_find_postings_keeps_the_same_picture_only(
    client: ImageSearchClient, photo_folder: Path, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    client.add([photo_folder])
    repost = tmp_path / "repost.jpg"
    edited_copy(photos["astronaut"], scale=0.5, crop=0.0, quality=60).save(repost)
    client.add([repost])
    postings = client.find_postings(photos["astronaut"])
    assert {p.title for p in postings} == {"astronaut.png", "repost.jpg"}
    assert {p.relation for p in postings} == {"copy"}
    # other photos are near it in the embedding, but no copies
    assert len(client.search(photos["astronaut"], k=5)) == 5
    assert postings.candidates == client.store.count()


def test_index_defaults_to_serpapi_and_says_how_to_set_the_key(
    client: ImageSearchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from img2img import SerpApiSource

    monkeypatch.delenv("SERPAPI_API_KEY", raising=False)
    assert isinstance(client.source, SerpApiSource)
    with pytest.raises(ConfigurationError, match="SERPAPI_API_KEY"):
        client.index("eiffel tower")


def test_defaults_are_clip_and_a_durable_store_under_img2img_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from img2img import ClipEmbedder, LocalStore

    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    with ImageSearchClient() as client:
        assert isinstance(client.embedder, ClipEmbedder)
        assert isinstance(client.store, LocalStore)
        client.store.set_embedding_space(client.space)
    assert (tmp_path / "home" / "index.sqlite3").is_file()
    reopened = LocalStore(tmp_path / "home" / "index.sqlite3")
    assert reopened.embedding_space() == client.space
    reopened.close()


def test_progress_reports_growing_counts_and_a_last_done(
    photo_folder: Path, tmp_path: Path
) -> None:
    from img2img import IndexProgress

    not_image = tmp_path / "notes.jpg"
    not_image.write_text("this is not a picture")
    seen: list[IndexProgress] = []
    client = ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), batch_size=2)
    report = client.add([photo_folder, not_image], progress=seen.append)

    last = seen[-1]
    assert last.done
    assert not any(p.done for p in seen[:-1])
    assert (last.discovered, last.stored, last.failed) == (
        report.discovered,
        report.indexed,
        report.failed,
    )
    assert last.fetched == last.embedded == last.stored == report.indexed
    for earlier, later in itertools.pairwise(seen):
        assert later != earlier
        assert later.stored >= earlier.stored
        assert later.fetched >= earlier.fetched
    assert len(seen) > 2  # batches of two: the counts moved more than once

    again = client.add([photo_folder], progress=seen.append)
    assert seen[-1].skipped == again.skipped > 0
