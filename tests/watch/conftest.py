"""Fixtures for the watch list: a web of reposts on loopback, an engine, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from watch_helpers import Web

from img2img import LOOPBACK_NETWORKS, HashEmbedder, HttpFetcher, ImageSearchClient, LocalStore
from img2img.testing.fake_tineye import FakeTinEye
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


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
