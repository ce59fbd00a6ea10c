"""store_stats and matching_records: whole-store reading in pages."""

from __future__ import annotations

import numpy as np
import pytest

from img2img import HashEmbedder, ImageSearchClient, InMemoryStore, InvalidFilterError
from img2img.models import EmbeddingSpace, VectorRecord
from img2img.stats import NO_VALUE, matching_records, source_of, store_stats


def record(i: int, **metadata: str) -> VectorRecord:
    vector = np.zeros(4, dtype=np.float32)
    vector[i % 4] = 1.0
    return VectorRecord(f"r{i}", vector, metadata)


@pytest.fixture
def store() -> InMemoryStore:
    store = InMemoryStore()
    store.set_embedding_space(EmbeddingSpace("m", 4))
    store.upsert(
        [
            record(0, keyphrase="cats", domain="a.com", image_url="https://a.com/0.jpg"),
            record(1, keyphrase="cats", domain="b.com", image_url="https://b.com/1.jpg"),
            record(2, keyphrase="dogs", domain="a.com", image_url="https://a.com/2.jpg"),
            record(3, domain="localhost", image_url="file:///p/3.png"),
            record(4, domain="a.com", image_url="https://a.com/4.jpg", source="lens"),
        ]
    )
    return store


def test_counts_most_frequent_first(store: InMemoryStore) -> None:
    stats = store_stats(store, batch_size=2)  # several pages
    assert stats.count == 5
    assert stats.space == EmbeddingSpace("m", 4)
    assert list(stats.by_keyphrase.items()) == [("cats", 2), (NO_VALUE, 2), ("dogs", 1)]
    assert list(stats.by_domain.items()) == [("a.com", 3), ("b.com", 1), ("localhost", 1)]
    assert dict(stats.by_source) == {"web": 3, "file": 1, "lens": 1}


def test_an_empty_store() -> None:
    stats = store_stats(InMemoryStore())
    assert (stats.count, stats.space, dict(stats.by_domain)) == (0, None, {})


def test_client_stats_is_the_same() -> None:
    client = ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore())
    assert client.stats().count == 0


def test_source_of() -> None:
    assert source_of({"image_url": "file:///x.png"}) == "file"
    assert source_of({"image_url": "http://x.com/a.png", "source": ""}) == "web"
    assert source_of({}) == NO_VALUE


def test_matching_records(store: InMemoryStore) -> None:
    cats = matching_records(store, {"keyphrase": "cats"}, batch_size=2)
    assert sorted(r.id for r in cats) == ["r0", "r1"]
    assert len(list(matching_records(store))) == 5
    with pytest.raises(InvalidFilterError):
        next(matching_records(store, {"$nope": 1}))
