"""Fixtures for locate: the sites, a fake Google Lens, a client with the offline model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from locate_helpers import COPIES, OTHERS, Web, post
from PIL import Image

from img2img import (
    LOOPBACK_NETWORKS,
    EfficientNetEmbedder,
    GoogleLensSource,
    HttpFetcher,
    ImageSearchClient,
    LocalStore,
)
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply


@pytest.fixture
def web() -> Iterator[Web]:
    holder: list[Web] = []

    def handler(request: RecordedRequest) -> Reply:
        state = holder[0]
        if request.path in state.replies:
            return state.replies[request.path]
        if request.path not in state.files:
            return Reply(status=404, body=b"not found")
        return Reply(body=state.files[request.path], headers={"Content-Type": "image/jpeg"})

    with LoopbackServer(handler) as server:
        holder.append(Web(server))
        yield holder[0]


@pytest.fixture(scope="session")
def bike() -> tuple[Image.Image, Image.Image]:
    """The query photo (a motorcycle) and the other view of its stereo pair."""
    import skimage.data

    left, right, _ = skimage.data.stereo_motorcycle()
    return Image.fromarray(np.asarray(left)), Image.fromarray(np.asarray(right))


@pytest.fixture
def serp() -> Iterator[FakeSerpApi]:
    with FakeSerpApi() as fake:
        yield fake


@pytest.fixture
def lens(serp: FakeSerpApi) -> GoogleLensSource:
    return serp.lens_source(sleep=lambda seconds: None)


@pytest.fixture
def claimed(
    web: Web, serp: FakeSerpApi, bike: tuple[Image.Image, Image.Image]
) -> dict[str, list[dict[str, Any]]]:
    """Lens claims eight pages as exact matches: the five copies, then the three other shots."""
    query, other = bike
    copies = post(web, COPIES, query)
    others = post(web, OTHERS, other, start=len(copies) + 1)
    serp.lens.serve(exact=copies + others, visual=[])
    return {"copies": copies, "others": others}


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(allowed_networks=LOOPBACK_NETWORKS) as fetcher:
        yield fetcher


@pytest.fixture
def client(
    efficientnet: EfficientNetEmbedder,
    fetcher: HttpFetcher,
    lens: GoogleLensSource,
    tmp_path: Path,
) -> Iterator[ImageSearchClient]:
    store = LocalStore(tmp_path / "index.sqlite3")
    with ImageSearchClient(
        embedder=efficientnet, store=store, fetcher=fetcher, reverse_source=lens
    ) as client:
        yield client
    store.close()
