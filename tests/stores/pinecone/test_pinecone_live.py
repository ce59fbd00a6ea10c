"""PineconeStore against the real Pinecone service. Skipped unless credentials are set.

    PINECONE_API_KEY=...  PINECONE_INDEX_HOST=https://<index>-<project>.svc.<region>.pinecone.io \
        pytest tests/stores/pinecone/test_pinecone_live.py

``PINECONE_INDEX`` (a name) may be given instead of, or as well as, the host;
the index must exist and use the cosine metric. Each run writes into a
namespace of its own and removes it afterwards. Pinecone serverless is
eventually consistent, so reads poll until writes show.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from img2img.errors import AuthenticationError
from img2img.models import EmbeddingSpace, VectorRecord
from img2img.stores.pinecone.store import SPACE_NAMESPACE, PineconeStore, space_record_id

API_KEY = os.environ.get("PINECONE_API_KEY", "")
HOST = os.environ.get("PINECONE_INDEX_HOST", "")
NAME = os.environ.get("PINECONE_INDEX", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (API_KEY and (HOST or NAME)),
        reason="set PINECONE_API_KEY and PINECONE_INDEX_HOST or PINECONE_INDEX to run",
    ),
]


def eventually(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("Pinecone did not show the write in time")
        time.sleep(2.0)


def _open(**options: Any) -> PineconeStore:
    where: dict[str, Any] = {"host": HOST} if HOST else {"index": NAME}
    return PineconeStore(**where, **options)


@pytest.fixture
def sdk_index() -> Iterator[Any]:
    """The same index through the SDK, to read its dimension and clean up."""
    from pinecone import Pinecone

    client = Pinecone(api_key=API_KEY)
    index = client.index(host=HOST) if HOST else client.index(name=NAME)
    yield index
    index.close()
    client.close()


@pytest.fixture
def store(sdk_index: Any) -> Iterator[PineconeStore]:
    namespace = f"img2img-test-{uuid.uuid4().hex[:12]}"
    handle = _open(namespace=namespace)
    yield handle
    handle.delete(filter={})
    sdk_index.delete(ids=[space_record_id(namespace)], namespace=SPACE_NAMESPACE)
    handle.close()


def test_round_trip_on_the_real_service(store: PineconeStore, sdk_index: Any) -> None:
    dimension = int(sdk_index.describe_index_stats().dimension)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.set_embedding_space(EmbeddingSpace("img2img-live-test", dimension))
    store.upsert(
        [
            VectorRecord(f"r{i}", vectors[i], {"domain": f"site{i % 2}.com", "n": i})
            for i in range(3)
        ]
    )
    eventually(lambda: store.count() == 3)
    best = store.query(vectors[1], k=3)
    assert best[0].id == "r1"
    assert best[0].score == pytest.approx(1.0, abs=1e-3)
    assert best[0].metadata["n"] == 1
    assert {m.id for m in store.query(vectors[0], k=3, filter={"domain": "site0.com"})} == {
        "r0",
        "r2",
    }
    assert set(store.fetch(["r0", "r2", "nope"])) == {"r0", "r2"}
    assert _open(namespace=store.namespace).embedding_space() == EmbeddingSpace(
        "img2img-live-test", dimension
    )
    store.delete(filter={"n": {"$gte": 1}})
    eventually(lambda: store.count() == 1)


def test_a_wrong_key_is_refused_by_the_real_service() -> None:
    with pytest.raises(AuthenticationError):
        _open(api_key="not-a-real-key").count()
