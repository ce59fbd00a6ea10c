"""Fixtures for the watch list: a web of reposts on loopback, an engine, a client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from img2img import LOOPBACK_NETWORKS, HashEmbedder, HttpFetcher, ImageSearchClient, LocalStore
from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.fake_tineye import FakeTinEye
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


@dataclass
class Web:
    """Every site on one loopback server: ``files`` by path; a path removed answers 404."""

    server: LoopbackServer
    files: dict[str, bytes] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.server.url + path

    def post(self, path: str, photo: Image.Image, edit: str = "jpeg70") -> str:
        self.files[path] = jpeg_bytes(apply_edit(photo, edit))
        return self.url(path)


@pytest.fixture
def web() -> Iterator[Web]:
    holder: list[Web] = []

    def handler(request: RecordedRequest) -> Reply:
        data = holder[0].files.get(request.path)
        if data is None:
            return Reply(status=404, body=b"not found")
        return Reply(body=data, headers={"Content-Type": "image/jpeg"})

    with LoopbackServer(handler) as server:
        holder.append(Web(server))
        yield holder[0]


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    return sample_photos(("astronaut", "coffee", "chelsea", "rocket"))


@pytest.fixture
def tineye() -> Iterator[FakeTinEye]:
    with FakeTinEye() as fake:
        fake.serve([])
        yield fake


@pytest.fixture
def client(tmp_path: Path) -> Iterator[ImageSearchClient]:
    store = LocalStore(tmp_path / "index.sqlite3")
    fetcher = HttpFetcher(allowed_networks=LOOPBACK_NETWORKS)
    with ImageSearchClient(embedder=HashEmbedder(), store=store, fetcher=fetcher) as client:
        yield client
    store.close()
    fetcher.close()
