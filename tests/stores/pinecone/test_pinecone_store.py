"""PineconeStore against the loopback Pinecone emulator, through the real pinecone SDK."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    InvalidFilterError,
    InvalidMetadataError,
    InvalidVectorError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
    StoreError,
    StoreNotFoundError,
)
from img2img.models import EmbeddingSpace, VectorRecord
from img2img.net.retry import RetryPolicy
from img2img.stores.pinecone.calls import translate
from img2img.stores.pinecone.fit import TITLE_LIMIT, TRIMMED_KEY
from img2img.stores.pinecone.store import SPACE_NAMESPACE, PineconeStore
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


# -- helpers -------------------------------------------------------------------


def unit(seed: int, dimension: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def provenance(i: int) -> dict[str, Any]:
    return {
        "image_url": f"https://img.example/{i}.jpg",
        "page_url": f"https://example.com/post/{i}",
        "domain": "example.com",
        "sha256": f"{i:064x}",
        "dhash": f"{i:016x}",
        "keyphrase": "eiffel tower",
        "indexed_at": 1_700_000_000 + i,
    }


@pytest.fixture
def fake() -> Iterator[FakePinecone]:
    with FakePinecone(dimension=8) as server:
        yield server


def make_store(fake: FakePinecone, **options: Any) -> PineconeStore:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("api_key", fake.api_key)
    if "index" not in options:
        options.setdefault("host", fake.url)
    return PineconeStore(**options)


@pytest.fixture
def store(fake: FakePinecone) -> Iterator[PineconeStore]:
    with make_store(fake, namespace="photos") as handle:
        yield handle


def upsert_sizes(fake: FakePinecone) -> list[int]:
    return [len(r.json()["vectors"]) for r in fake.requests_to("/vectors/upsert")]


# -- batching --------------------------------------------------------------------


def test_upserts_are_split_at_1000_vectors(fake: FakePinecone) -> None:
    store = make_store(fake)
    store.upsert([VectorRecord(f"r{i}", unit(i, 8), {"n": i}) for i in range(2_500)])
    assert upsert_sizes(fake) == [1_000, 1_000, 500]
    assert store.count() == 2_500


def test_upserts_are_split_under_2_mb() -> None:
    with FakePinecone(dimension=512) as fake:
        store = make_store(fake)
        records = [VectorRecord(f"r{i}", unit(i, 512), provenance(i)) for i in range(300)]
        store.upsert(records)
        bodies = [len(r.body) for r in fake.requests_to("/vectors/upsert")]
        assert len(bodies) >= 2
        assert max(bodies) <= 2_000_000
        assert sum(upsert_sizes(fake)) == 300
        assert bodies[0] > 1_900_000  # batches are filled, not merely small
        assert store.count() == 300


def test_a_smaller_request_budget_is_kept() -> None:
    with FakePinecone(dimension=64, max_request_bytes=30_000) as fake:
        store = make_store(fake, max_request_bytes=30_000)
        store.upsert([VectorRecord(f"r{i}", unit(i, 64), provenance(i)) for i in range(100)])
        assert max(len(r.body) for r in fake.requests_to("/vectors/upsert")) <= 30_000
        assert store.count() == 100


def test_fetch_and_delete_of_many_ids_are_split(fake: FakePinecone) -> None:
    store = make_store(fake)
    ids = [f"{i:032x}" for i in range(2_300)]
    store.upsert([VectorRecord(i, unit(n, 8)) for n, i in enumerate(ids)])
    fetched = store.fetch(ids)
    assert list(fetched) == ids
    fetch_calls = fake.requests_to("/vectors/fetch")
    assert len(fetch_calls) > 1
    assert all(len(r.query["ids"]) <= 1_000 for r in fetch_calls)
    store.delete(ids[:2_100])
    assert [len(r.json()["ids"]) for r in fake.requests_to("/vectors/delete")] == [
        1_000,
        1_000,
        100,
    ]
    assert store.count() == 200


# -- metadata rules --------------------------------------------------------------


def test_oversized_metadata_is_trimmed_by_the_rule(
    fake: FakePinecone, store: PineconeStore
) -> None:
    metadata = {**provenance(1), "title": "t" * 50_000, "extra": "e" * 39_000, "width": 640}
    store.upsert([VectorRecord("big", unit(1, 8), metadata)])
    stored = fake.records("photos")["big"]["metadata"]
    assert stored["title"] == "t" * (TITLE_LIMIT - 1) + "…"
    assert "extra" not in stored
    assert stored[TRIMMED_KEY] == ["extra", "title"]
    assert stored["width"] == 640
    assert all(stored[k] == v for k, v in provenance(1).items())
    assert store.fetch(["big"])["big"].metadata["indexed_at"] == provenance(1)["indexed_at"]


def test_metadata_that_cannot_fit_is_refused_and_nothing_is_written(
    fake: FakePinecone, store: PineconeStore
) -> None:
    good = VectorRecord("good", unit(1, 8), provenance(1))
    bad = VectorRecord("bad", unit(2, 8), {**provenance(2), "page_url": "p" * 45_000})
    with pytest.raises(InvalidMetadataError, match="bad"):
        store.upsert([good, bad])
    assert fake.requests_to("/vectors/upsert") == []
    assert store.count() == 0


def test_trim_can_be_refused(fake: FakePinecone) -> None:
    store = make_store(fake, trim_metadata=False)
    with pytest.raises(InvalidMetadataError, match="40000"):
        store.upsert([VectorRecord("t", unit(1, 8), {"title": "t" * 41_000})])


def test_nulls_are_refused_and_tuples_become_lists(
    fake: FakePinecone, store: PineconeStore
) -> None:
    with pytest.raises(InvalidMetadataError):
        store.upsert([VectorRecord("n", unit(1, 8), {"title": None})])  # type: ignore[dict-item]
    store.upsert([VectorRecord("t", unit(1, 8), {"tags": ("a", "b")})])  # type: ignore[dict-item]
    assert fake.records("photos")["t"]["metadata"]["tags"] == ["a", "b"]


def test_numbers_come_back_with_their_type(store: PineconeStore) -> None:
    store.upsert([VectorRecord("a", unit(1, 8), {"year": 2020, "ratio": 0.25})])
    metadata = store.fetch(["a"])["a"].metadata
    assert type(metadata["year"]) is int
    assert metadata["ratio"] == 0.25
    (match,) = store.query(unit(1, 8), k=1)
    assert type(match.metadata["year"]) is int


@pytest.mark.parametrize("bad_id", ["caf\u00e9", "a\x00b", "x" * 513])
def test_ids_pinecone_cannot_hold_are_refused(
    fake: FakePinecone, store: PineconeStore, bad_id: str
) -> None:
    with pytest.raises(InvalidVectorError):
        store.upsert([VectorRecord("fine", unit(1, 8)), VectorRecord(bad_id, unit(2, 8))])
    assert fake.requests_to("/vectors/upsert") == []
    assert store.fetch([bad_id]) == {}
    store.delete([bad_id])  # nothing to delete, and no error


def test_zero_vectors_are_refused_before_sending(fake: FakePinecone, store: PineconeStore) -> None:
    with pytest.raises(InvalidVectorError, match="zeros"):
        store.upsert([VectorRecord("z", np.zeros(8, dtype=np.float32))])
    with pytest.raises(InvalidVectorError, match="zeros"):
        store.query(np.zeros(8, dtype=np.float32))
    assert fake.requests_to("/vectors/upsert") == []


def test_query_limits(store: PineconeStore) -> None:
    store.upsert([VectorRecord("a", unit(1, 8))])
    assert store.query(unit(1, 8), k=0) == []
    with pytest.raises(StoreError, match="1000"):
        store.query(unit(1, 8), k=1_001)


def test_delete_with_the_empty_filter_clears_only_this_namespace(fake: FakePinecone) -> None:
    mine, theirs = make_store(fake, namespace="mine"), make_store(fake, namespace="theirs")
    for handle in (mine, theirs):
        handle.upsert([VectorRecord(f"r{i}", unit(i, 8)) for i in range(3)])
    mine.delete(filter={})
    assert mine.count() == 0
    assert theirs.count() == 3
    mine.delete(filter={"a": 1})  # a namespace that is gone holds nothing to delete


# -- faults and errors -----------------------------------------------------------

THROTTLED = FakePinecone.error(429, "Too many requests", retry_after="0")
UNAVAILABLE = FakePinecone.error(503, "Service unavailable", retry_after="0")


def test_throttling_is_ridden_out(fake: FakePinecone, store: PineconeStore) -> None:
    fake.queue(THROTTLED, UNAVAILABLE, path="/vectors/upsert")
    store.upsert([VectorRecord("a", unit(1, 8))])
    assert len(fake.requests_to("/vectors/upsert")) == 3
    assert store.count() == 1


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [(THROTTLED, RateLimitError, 429), (UNAVAILABLE, ServiceUnavailableError, 503)],
)
def test_persistent_faults_raise_after_the_retries(
    fake: FakePinecone, fault: Any, error: type[Exception], status: int
) -> None:
    store = make_store(fake, retry=RetryPolicy(attempts=2, base_delay=0.01))
    fake.queue(*[fault] * 20, path="/query")
    with pytest.raises(error) as caught:
        store.query(unit(1, 8), k=1)
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert type(caught.value.__cause__).__module__.startswith("pinecone")
    # The SDK tries four times; our policy runs it twice.
    assert len(fake.requests_to("/query")) == 8


def test_retry_after_is_honoured_by_our_retry(fake: FakePinecone, store: PineconeStore) -> None:
    slow = FakePinecone.error(429, "Too many requests", retry_after="0.4")
    fake.queue(THROTTLED, THROTTLED, THROTTLED, slow, path="/vectors/fetch")
    started = time.monotonic()
    assert store.fetch(["nothing"]) == {}
    assert time.monotonic() - started >= 0.4
    assert len(fake.requests_to("/vectors/fetch")) == 5


def test_a_wrong_key_is_an_authentication_error_and_not_retried(fake: FakePinecone) -> None:
    store = make_store(fake, api_key="not-the-key")
    with pytest.raises(AuthenticationError) as caught:
        store.count()
    assert caught.value.status_code == 401
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (
            400,
            "Metadata size is 41000 bytes, which exceeds the limit of 40960 bytes per vector",
            InvalidMetadataError,
        ),
        (400, "Vector dimension 9 does not match the dimension of the index 8", InvalidVectorError),
        (400, "Invalid filter: bad operator", InvalidFilterError),
        (400, FakePinecone.TOO_LARGE, StoreError),
        (403, "Forbidden", AuthenticationError),
        (404, "Namespace not found", StoreError),
        (402, "Payment required", ServiceError),
    ],
)
def test_service_errors_are_translated(
    fake: FakePinecone, store: PineconeStore, status: int, message: str, error: type[Exception]
) -> None:
    fake.queue(FakePinecone.error(status, message), path="/vectors/upsert")
    with pytest.raises(error, match=message[:20]) as caught:
        store.upsert([VectorRecord("a", unit(1, 8))])
    assert caught.value.__cause__ is not None
    assert len(fake.requests_to("/vectors/upsert")) == 1  # refusals are not retried


def test_connection_failures_are_service_unavailable() -> None:
    from pinecone.errors.exceptions import PineconeConnectionError, PineconeTimeoutError

    for vendor in (PineconeConnectionError("refused"), PineconeTimeoutError("timed out")):
        assert isinstance(translate(vendor, "query"), ServiceUnavailableError)


# -- embedding space -------------------------------------------------------------


def test_the_space_record_stays_out_of_queries_and_counts(
    fake: FakePinecone, store: PineconeStore
) -> None:
    store.set_embedding_space(EmbeddingSpace("model-a", 8))
    marker = np.eye(8, dtype=np.float32)[0]  # what the space record holds
    store.upsert([VectorRecord("a", unit(1, 8))])
    assert [m.id for m in store.query(marker, k=10)] == ["a"]
    assert store.count() == 1
    assert len(fake.records(SPACE_NAMESPACE)) == 1


def test_each_namespace_keeps_its_own_space_and_it_outlives_the_store(fake: FakePinecone) -> None:
    make_store(fake, namespace="a").set_embedding_space(EmbeddingSpace("model-a", 8))
    written = make_store(fake, namespace="b")
    written.set_embedding_space(EmbeddingSpace("model-b", 8))
    written.upsert([VectorRecord("b1", unit(1, 8))])  # vectors bind a namespace to its space
    assert make_store(fake, namespace="a").embedding_space() == EmbeddingSpace("model-a", 8)
    reopened = make_store(fake, namespace="b")
    with pytest.raises(EmbeddingSpaceMismatchError, match="model-b"):
        reopened.set_embedding_space(EmbeddingSpace("model-a", 8))


def test_a_space_of_another_dimension_than_the_index_is_refused(store: PineconeStore) -> None:
    with pytest.raises(EmbeddingSpaceMismatchError, match="8-d"):
        store.set_embedding_space(EmbeddingSpace("wide", 16))
    assert store.embedding_space() is None


def test_the_reserved_namespace_cannot_hold_data(fake: FakePinecone) -> None:
    with pytest.raises(ConfigurationError, match="reserved"):
        make_store(fake, namespace=SPACE_NAMESPACE)


# -- the control plane -------------------------------------------------------------


def test_create_if_missing_makes_an_index_of_the_embedders_dimension() -> None:
    with FakePinecone(dimension=None, index_name="photos") as fake:
        store = make_store(
            fake,
            index="photos",
            controller_host=fake.url,
            create_if_missing=True,
            region="eu-west-1",
        )
        assert store.count() == 0  # reads see an empty store until the index exists
        assert store.embedding_space() is None
        assert store.query(unit(1, 16), k=3) == []
        assert fake.requests_to("/indexes") == []
        store.set_embedding_space(EmbeddingSpace("model-a", 16))
        (create,) = fake.requests_to("/indexes")
        assert create.json()["schema"]["fields"]["_values"] == {
            "type": "dense_vector",
            "dimension": 16,
            "metric": "cosine",
        }
        assert create.json()["deployment"]["region"] == "eu-west-1"
        store.upsert([VectorRecord("a", unit(1, 16))])
        assert store.count() == 1


def test_create_if_missing_uses_the_first_vectors_or_the_given_dimension() -> None:
    with FakePinecone(dimension=None, index_name="photos") as fake:
        make_store(fake, index="photos", controller_host=fake.url, create_if_missing=True).upsert(
            [VectorRecord("a", unit(1, 12))]
        )
        assert fake.dimension == 12
    with FakePinecone(dimension=None, index_name="photos") as fake:
        store = make_store(
            fake, index="photos", controller_host=fake.url, create_if_missing=True, dimension=6
        )
        with pytest.raises(InvalidVectorError):
            store.upsert([VectorRecord("a", unit(1, 12))])
        assert fake.dimension == 6  # a given dimension is created on first use
        assert fake.records() == {}


def test_an_existing_index_is_found_by_name(fake: FakePinecone) -> None:
    store = make_store(
        fake, index=fake.index_name, controller_host=fake.url, create_if_missing=True
    )
    store.upsert([VectorRecord("a", unit(1, 8))])
    assert store.count() == 1
    assert [r.method for r in fake.requests if r.path.startswith("/indexes")] == ["GET"]


def test_a_missing_index_without_create_is_a_configuration_error() -> None:
    with FakePinecone(dimension=None, index_name="photos") as fake:
        store = make_store(fake, index="photos", controller_host=fake.url)
        with pytest.raises(StoreNotFoundError, match="create_if_missing"):
            store.count()
        assert issubclass(StoreNotFoundError, ConfigurationError)


def test_the_command_opens_an_index_only_if_it_exists_unless_creating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from img2img.stores.pinecone.store import PineconeStore

    with FakePinecone(dimension=8, index_name="photos") as fake:
        monkeypatch.setenv("PINECONE_API_KEY", fake.api_key)
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", fake.url)
        with pytest.raises(StoreNotFoundError, match="no Pinecone index 'fotos' for --store"):
            PineconeStore.from_options("fotos/mine", create=False)
        with PineconeStore.from_options("photos/mine", create=False) as store:
            assert (store.index_name, store.namespace) == ("photos", "mine")
        with pytest.raises(ConfigurationError, match="pinecone://INDEX/NAMESPACE"):
            PineconeStore.from_options("a/b/c", create=True)


# -- configuration -----------------------------------------------------------------


def test_the_key_comes_from_the_environment(
    fake: FakePinecone, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINECONE_API_KEY", fake.api_key)
    store = PineconeStore(host=fake.url, retry=FAST_RETRY)
    assert store.count() == 0
    assert fake.requests[0].headers["api-key"] == fake.api_key
    monkeypatch.delenv("PINECONE_API_KEY")
    with pytest.raises(ConfigurationError, match="PINECONE_API_KEY"):
        PineconeStore(host=fake.url)


def test_a_key_or_host_the_client_cannot_use_is_a_configuration_error(
    fake: FakePinecone,
) -> None:
    with pytest.raises(ConfigurationError, match="API key") as caught:
        make_store(fake, api_key="pclocal\n").count()
    assert "pclocal" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="cannot open"):
        make_store(fake, host="ftp://nowhere").count()
    assert fake.requests == []


def test_an_index_or_host_is_required() -> None:
    with pytest.raises(ConfigurationError, match="index"):
        PineconeStore(api_key="k")


def test_importing_the_store_does_not_import_pinecone() -> None:
    code = (
        "import sys, img2img.stores.pinecone.store; "
        "assert not {'pinecone', 'orjson'} & set(sys.modules), sys.modules.keys()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- with the client -----------------------------------------------------------------


def test_the_client_indexes_and_finds_photos_through_pinecone(photo_folder: Path) -> None:
    from img2img import HashEmbedder, ImageSearchClient

    with FakePinecone(dimension=None, index_name="photos") as fake:
        store = make_store(fake, index="photos", controller_host=fake.url, create_if_missing=True)
        client = ImageSearchClient(embedder=HashEmbedder(), store=store, batch_size=4)
        assert client.search(photo_folder / "chelsea.png") == []  # no index yet: empty
        files = sorted(photo_folder.glob("*.png"))
        report = client.add([photo_folder])
        assert (report.indexed, report.failed) == (len(files), 0)
        assert fake.dimension == 64
        for path in files[:4]:
            best = client.search(path, k=1)[0]
            assert best.image_url == path.resolve().as_uri()
            assert best.score == pytest.approx(1.0, abs=1e-5)
        again = client.add([photo_folder])
        assert again.skipped == len(files)
        other = ImageSearchClient(
            embedder=HashEmbedder(seed=3),
            store=make_store(fake, index="photos", controller_host=fake.url),
        )
        with pytest.raises(EmbeddingSpaceMismatchError, match="seed-0"):
            other.search(files[0])
        client.close()
