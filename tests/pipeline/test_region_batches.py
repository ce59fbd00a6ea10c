"""A composite's regions go to the model in the same call as their batch's images and to
the store in the same upsert; a call or an upsert that fails keeps the images, and their
regions when they succeed on their own."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from img2img.embedders.hashing import HashEmbedder
from img2img.models import ImageCandidate, VectorRecord
from img2img.pipeline import IndexSettings, run_index
from img2img.postings.region_records import is_region
from img2img.postings.regions import crop_regions, split_regions
from img2img.stores.memory import InMemoryStore

SETTINGS = IndexSettings(workers=2, batch_size=2)


def collage(seed: int) -> Image.Image:
    """Four noisy pictures in a 2 x 2 grid with white gutters."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("RGB", (420, 420), "white")
    for n, (left, top) in enumerate(((0, 0), (220, 0), (0, 220), (220, 220))):
        cell = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8) // (n + 1)
        canvas.paste(Image.fromarray(cell), (left, top))
    return canvas


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


PICTURES = {f"https://img.example/{n}.png": collage(n) for n in range(4)}


def read(url: str) -> bytes:
    return png(PICTURES[url])


def candidates() -> list[ImageCandidate]:
    return [ImageCandidate(image_url=url) for url in PICTURES]


class CountingEmbedder(HashEmbedder):
    """Remembers how many rows each call of the model had; refuses calls of more than
    ``most`` rows (a bug of the items', not a systemic fault)."""

    def __init__(self, most: int = 1_000) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.most = most

    def embed_prepared(self, prepared: Sequence[Any]) -> Any:
        self.calls.append(len(prepared))
        if len(prepared) > self.most:
            raise ValueError("too many rows")
        return super().embed_prepared(prepared)


class NoRegionsStore(InMemoryStore):
    """A store that refuses any upsert holding a region's record."""

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        if any(is_region(r.metadata) for r in records):
            raise ValueError("no regions here")
        super().upsert(records)


def index(embedder: CountingEmbedder, store: InMemoryStore) -> Any:
    return run_index(
        candidates(), keyphrase=None, read=read, embedder=embedder, store=store, settings=SETTINGS
    )


def records(store: InMemoryStore) -> list[VectorRecord]:
    return [record for batch in store.scan() for record in batch]


def regions_of(store: InMemoryStore) -> dict[str, Any]:
    return {r.id: r.vector for r in records(store) if is_region(r.metadata)}


def test_regions_share_their_batchs_model_call_and_keep_their_vectors() -> None:
    assert len(split_regions(collage(0))) == 4
    embedder, store = CountingEmbedder(), InMemoryStore()
    report = index(embedder, store)
    assert (report.indexed, report.failures) == (4, ())
    assert embedder.calls == [2 + 8, 2 + 8]  # two images and their eight regions a call
    stored = regions_of(store)
    assert len(stored) == 16
    for url, picture in PICTURES.items():
        crops = crop_regions(picture, split_regions(picture))
        expected = HashEmbedder().embed_images(crops)
        owner = next(r.id for r in records(store) if r.metadata.get("image_url") == url)
        for n, vector in enumerate(expected):
            # float32 products summed in another order (another batch, another BLAS
            # thread count) differ in the last bits; another crop differs by far more.
            assert np.allclose(stored[f"{owner}#region{n}"], vector, rtol=1e-5, atol=1e-6)


def test_a_failed_shared_call_embeds_the_images_and_then_their_regions_apart() -> None:
    embedder, store = CountingEmbedder(most=8), InMemoryStore()
    report = index(embedder, store)
    assert (report.indexed, report.failures) == (4, ())
    assert embedder.calls == [10, 2, 8, 10, 2, 8]
    assert len(regions_of(store)) == 16


def test_regions_the_model_or_the_store_refuses_leave_their_images_stored() -> None:
    store = InMemoryStore()
    report = index(CountingEmbedder(most=2), store)
    assert (report.indexed, report.failures, store.count()) == (4, (), 4)
    store = NoRegionsStore()
    report = index(CountingEmbedder(), store)
    assert (report.indexed, report.failures, store.count()) == (4, (), 4)
    assert regions_of(store) == {}
