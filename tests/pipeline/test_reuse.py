"""Never the same work twice (img2img.pipeline.reuse): skipped ids, reused vectors."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from img2img import (
    HashEmbedder,
    HttpFetcher,
    ImageCandidate,
    ImageSearchClient,
    InMemoryStore,
    LocalStore,
    StaticSource,
)
from img2img.provenance import image_id
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def gallery(photos: dict[str, Image.Image]) -> Iterator[tuple[LoopbackServer, dict[str, bytes]]]:
    """A server where ``/<name>/<anything>`` serves the photo ``name`` as PNG."""
    bodies = {name: png(photo.resize((96, 96))) for name, photo in photos.items()}

    def serve(request: RecordedRequest) -> Reply:
        name = request.path.strip("/").split("/")[0]
        if name not in bodies:
            return Reply(status=404)
        return Reply(body=bodies[name], headers={"Content-Type": "image/png"})

    with LoopbackServer(serve) as server:
        yield server, bodies


def client_for(store: object, embedder: HashEmbedder, **kwargs: object) -> ImageSearchClient:
    fetcher = HttpFetcher(allowed_networks=["127.0.0.0/8"])
    return ImageSearchClient(
        embedder=embedder,
        store=store,
        fetcher=fetcher,
        batch_size=4,
        **kwargs,  # type: ignore[arg-type]
    )


def test_identical_bytes_are_embedded_once_within_a_run(
    gallery: tuple[LoopbackServer, dict[str, bytes]],
) -> None:
    server, _ = gallery
    embedder = HashEmbedder()
    client = client_for(InMemoryStore(), embedder)
    urls = [f"{server.url}/chelsea/{n}.png" for n in range(6)] + [f"{server.url}/coffee/a.png"]
    report = client.add(urls)
    assert (report.indexed, report.reused, report.failed) == (7, 5, 0)
    assert sum(embedder.image_batches) == 2  # chelsea once, coffee once
    records = client.store.fetch([image_id(u) for u in urls])
    assert len(records) == 7
    assert {r.metadata["image_url"] for r in records.values()} == set(urls)
    chelsea = [records[image_id(u)].vector for u in urls[:6]]
    assert all((v == chelsea[0]).all() for v in chelsea)


def test_a_new_url_for_known_bytes_reuses_the_stored_vector(
    gallery: tuple[LoopbackServer, dict[str, bytes]], tmp_path: Path
) -> None:
    server, _ = gallery
    first = HashEmbedder()
    with LocalStore(tmp_path / "index.sqlite3") as store:
        client_for(store, first).add([f"{server.url}/rocket/original.png"])
    second = HashEmbedder()
    with LocalStore(tmp_path / "index.sqlite3") as store:
        report = client_for(store, second).add(
            [ImageCandidate(f"{server.url}/rocket/repost.png", page_url="https://b.example/p")]
        )
        assert (report.indexed, report.reused) == (1, 1)
        assert second.image_batches == []  # the model never ran
        repost = store.fetch([image_id(f"{server.url}/rocket/repost.png")])
        original = store.fetch([image_id(f"{server.url}/rocket/original.png")])
        (new,) = repost.values()
        (old,) = original.values()
        assert new.metadata["page_url"] == "https://b.example/p"
        assert new.metadata["sha256"] == old.metadata["sha256"]
        assert (new.vector == old.vector).all()
        assert store.count() == 2


def test_a_rerun_downloads_nothing_already_stored_unless_asked(
    gallery: tuple[LoopbackServer, dict[str, bytes]],
) -> None:
    server, bodies = gallery
    candidates = [ImageCandidate(f"{server.url}/{name}/x.png") for name in list(bodies)[:5]]
    client = client_for(InMemoryStore(), HashEmbedder(), workers=2, source=StaticSource(candidates))
    assert client.index("cats").indexed == 5
    downloads = len(server.requests)
    again = client.index("cats")
    assert (again.indexed, again.skipped) == (0, 5)
    assert len(server.requests) == downloads
    refreshed = client.index("cats", reindex=True)
    assert refreshed.indexed == 5
    assert len(server.requests) == downloads + 5


def test_a_local_file_whose_bytes_changed_is_embedded_again(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    path = tmp_path / "picture.png"
    photos["astronaut"].resize((64, 64)).save(path)
    embedder = HashEmbedder()
    client = client_for(InMemoryStore(), embedder)
    assert client.add([path]).indexed == 1
    unchanged = client.add([path])
    assert (unchanged.indexed, unchanged.skipped) == (0, 1)

    photos["coffee"].resize((64, 64)).save(path)
    changed = client.add([path])
    assert (changed.indexed, changed.skipped, changed.reused) == (1, 0, 0)
    (match,) = client.search(photos["coffee"].resize((64, 64)), k=1)
    assert match.image_url == path.as_uri()
    assert match.score == pytest.approx(1.0, abs=1e-5)
    assert client.store.count() == 1

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    batches = len(embedder.image_batches)
    touched = client.add([path])  # same bytes, newer time: read again, not embedded again
    assert (touched.indexed, touched.reused) == (1, 1)
    assert len(embedder.image_batches) == batches


def test_a_record_stored_without_a_file_signature_is_compared_by_content(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    path = tmp_path / "old.png"
    photos["chelsea"].resize((64, 64)).save(path)
    client = client_for(InMemoryStore(), HashEmbedder())
    client.add([path])
    (record,) = client.store.fetch([image_id(path.as_uri())]).values()
    legacy = {k: v for k, v in record.metadata.items() if k != "file_signature"}
    client.store.upsert([type(record)(record.id, record.vector, legacy)])
    assert client.add([path]).skipped == 1
    photos["rocket"].resize((64, 64)).save(path)
    assert client.add([path]).indexed == 1


def test_urls_signed_anew_on_every_read_index_as_the_same_records(
    gallery: tuple[LoopbackServer, dict[str, bytes]],
) -> None:
    # A CDN that signs its links per read (Discord's) gives new URLs each run;
    # the source's identity keeps the records the same, and nothing is downloaded again.
    server, bodies = gallery
    names = list(bodies)[:3]

    def signed(run: int) -> list[ImageCandidate]:
        return [
            ImageCandidate(f"{server.url}/{name}/file.png?sig={run}", identity=f"cdn/{name}")
            for name in names
        ]

    client = client_for(InMemoryStore(), HashEmbedder())
    assert client.add(signed(1)).indexed == 3
    downloads = len(server.requests)
    again = client.add(signed(2))
    assert (again.indexed, again.skipped) == (0, 3)
    assert client.store.count() == 3
    assert len(server.requests) == downloads
