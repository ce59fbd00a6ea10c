"""PineconeStore against the loopback Pinecone emulator, through the real pinecone SDK."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from img2img.retry import RetryPolicy
from img2img.stores.pinecone import PineconeStore
from img2img.testing.contracts import VectorStoreContract
from img2img.testing.fake_pinecone import FakePinecone

FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=1.0)
_namespaces = itertools.count()


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakePinecone]:
    """One emulator for the contract tests; each test gets a namespace of its own."""
    with FakePinecone(dimension=VectorStoreContract.dimension) as fake:
        yield fake


class TestPineconeStoreContract(VectorStoreContract):
    @pytest.fixture
    def store(self, shared_fake: FakePinecone) -> Iterator[PineconeStore]:
        store = PineconeStore(
            host=shared_fake.url,
            api_key=shared_fake.api_key,
            namespace=f"contract-{next(_namespaces)}",
            retry=FAST_RETRY,
        )
        yield store
        store.close()
