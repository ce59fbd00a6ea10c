"""Per-item stages never raise: any exception about one item becomes its Failure, naming
the type when img2img did not expect it; only systemic faults end the run."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    AuthenticationError,
    MissingDependencyError,
    ModelUnavailableError,
    StoreError,
)
from img2img.models import ImageCandidate, VectorRecord
from img2img.pipeline import IndexSettings, run_index
from img2img.stores.memory import InMemoryStore

SETTINGS = IndexSettings(workers=2, batch_size=4)


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 40, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def candidates(n: int = 8) -> list[ImageCandidate]:
    return [ImageCandidate(image_url=f"https://img.example/{i}.png") for i in range(n)]


def reader(faults: dict[str, BaseException]) -> Any:
    def read(url: str) -> bytes:
        if url in faults:
            raise faults[url]
        return png(int(url.rsplit("/", 1)[1].split(".")[0]) * 20)

    return read


def test_an_unexpected_error_while_reading_is_that_items_failure() -> None:
    store = InMemoryStore()
    report = run_index(
        candidates(),
        keyphrase=None,
        read=reader({"https://img.example/3.png": KeyError("no such header")}),
        embedder=HashEmbedder(),
        store=store,
        settings=SETTINGS,
    )
    (failure,) = report.failures
    assert (failure.url, failure.stage) == ("https://img.example/3.png", "fetch")
    assert failure.reason == "unexpected KeyError: 'no such header'"
    assert (report.indexed, store.count()) == (7, 7)


class PickyStore(InMemoryStore):
    """A store with a bug that shows on one record only."""

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        if any(r.metadata.get("image_url", "").endswith("/5.png") for r in records):
            raise ValueError("cannot store this one")
        super().upsert(records)


class ShortEmbedder(HashEmbedder):
    """An embedder that loses a row when it sees a dark image.

    The pipeline prepares images on its download threads and embeds the
    prepared inputs; each prepared image remembers whether it was dark.
    """

    def prepare(self, image: Image.Image) -> Any:
        return (super().prepare(image), image.getpixel((0, 0))[0] == 0)

    def embed_prepared(self, prepared: Sequence[Any]) -> Any:
        vectors = super().embed_prepared([pixels for pixels, _ in prepared])
        dark = [i for i, (_, is_dark) in enumerate(prepared) if is_dark]
        return np.delete(vectors, dark[:1], axis=0) if dark else vectors

    def embed_images(self, images: Sequence[Image.Image]) -> Any:
        return self.embed_prepared([self.prepare(image) for image in images])


def test_unexpected_errors_in_embedding_and_storing_cost_one_item() -> None:
    store = PickyStore()
    report = run_index(
        candidates(),
        keyphrase=None,
        read=reader({}),
        embedder=ShortEmbedder(),
        store=store,
        settings=SETTINGS,
    )
    failures = {f.url.rsplit("/", 1)[1]: f for f in report.failures}
    assert sorted(failures) == ["0.png", "5.png"]
    assert failures["0.png"].stage == "embed"
    assert "unexpected ValueError: the embedder returned 0 vectors for 1 images" in (
        failures["0.png"].reason
    )
    assert failures["5.png"].stage == "store"
    assert failures["5.png"].reason == "unexpected ValueError: cannot store this one"
    assert store.count() == report.indexed == 6


@pytest.mark.parametrize(
    "fault",
    [
        AuthenticationError("bad key"),
        MissingDependencyError("pip install something"),
        ModelUnavailableError("no weights"),
        StoreError("the store is down"),
        KeyboardInterrupt(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_systemic_faults_end_the_run(fault: BaseException) -> None:
    with pytest.raises(type(fault)):
        run_index(
            candidates(),
            keyphrase=None,
            read=reader({"https://img.example/2.png": fault}),
            embedder=HashEmbedder(),
            store=InMemoryStore(),
            settings=SETTINGS,
        )
