"""The Pinecone emulator, driven by the real pinecone SDK: it must keep Pinecone's rules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from pinecone import Pinecone
from pinecone.errors.exceptions import (
    ApiError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    UnauthorizedError,
)

from img2img.testing.fake_pinecone import FakePinecone

DIM = 4


@pytest.fixture
def fake() -> Iterator[FakePinecone]:
    with FakePinecone(dimension=DIM) as server:
        yield server


@pytest.fixture
def index(fake: FakePinecone) -> Any:
    handle = Pinecone(api_key=fake.api_key).index(host=fake.url)
    yield handle
    handle.close()


def _vec(*values: float) -> list[float]:
    return list(values)


def _body(error: ApiError) -> dict[str, Any]:
    assert isinstance(error.body, dict)
    assert set(error.body) == {"code", "message", "details"}
    return error.body


def test_upsert_fetch_round_trip_and_numbers_come_back_as_floats(
    fake: FakePinecone, index: Any
) -> None:
    response = index.upsert(
        vectors=[("a", _vec(1, 0, 0, 0), {"year": 2020, "tags": ["x"], "ok": True})],
        namespace="ns",
    )
    assert response.upserted_count == 1
    fetched = index.fetch(ids=["a", "missing"], namespace="ns").vectors
    assert set(fetched) == {"a"}
    assert fetched["a"].values == [1.0, 0.0, 0.0, 0.0]
    metadata = fetched["a"].metadata
    assert metadata == {"year": 2020.0, "tags": ["x"], "ok": True}
    assert isinstance(metadata["year"], float)
    assert fake.records("ns")["a"]["metadata"]["tags"] == ["x"]


def test_stats_count_per_namespace_and_name_the_default(index: Any) -> None:
    index.upsert(vectors=[("a", _vec(1, 0, 0, 0)), ("b", _vec(0, 1, 0, 0))])
    index.upsert(vectors=[("c", _vec(0, 0, 1, 0))], namespace="other")
    stats = index.describe_index_stats()
    assert stats.dimension == DIM
    assert stats.total_vector_count == 3
    assert stats.namespaces["__default__"].vector_count == 2
    assert stats.namespaces["other"].vector_count == 1


def test_query_scores_are_cosine_and_filters_apply(index: Any) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((6, DIM))
    index.upsert(
        vectors=[(f"v{i}", vectors[i].tolist(), {"even": i % 2 == 0, "n": i}) for i in range(6)]
    )
    probe = rng.standard_normal(DIM)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = unit @ (probe / np.linalg.norm(probe))
    result = index.query(vector=probe.tolist(), top_k=3, include_metadata=True)
    assert [m.id for m in result.matches] == [f"v{i}" for i in np.argsort(-expected)[:3]]
    for match in result.matches:
        assert match.score == pytest.approx(expected[int(match.id[1:])], abs=1e-9)
    filtered = index.query(vector=probe.tolist(), top_k=10, filter={"even": True, "n": {"$gte": 2}})
    assert {m.id for m in filtered.matches} == {"v2", "v4"}
    assert all(m.metadata is None for m in filtered.matches)  # not asked for


def test_query_with_values_and_by_id(index: Any) -> None:
    index.upsert(vectors=[("a", _vec(1, 0, 0, 0)), ("b", _vec(1, 1, 0, 0))])
    result = index.query(id="a", top_k=2, include_values=True)
    assert [m.id for m in result.matches] == ["a", "b"]
    assert result.matches[1].values == [1.0, 1.0, 0.0, 0.0]
    assert result.matches[1].score == pytest.approx(2**-0.5)


def test_more_than_1000_vectors_are_refused_in_pinecone_shape(
    fake: FakePinecone, index: Any
) -> None:
    vectors = [(f"id{i}", _vec(1, 0, 0, 0)) for i in range(1001)]
    with pytest.raises(ApiError) as caught:
        index.upsert(vectors=vectors)
    assert caught.value.status_code == 400
    assert _body(caught.value)["code"] == 3
    assert "1001" in _body(caught.value)["message"]
    assert fake.records() == {}
    index.upsert(vectors=vectors[:1000])
    assert len(fake.records()) == 1000


def test_requests_over_2_mib_are_refused() -> None:
    big = FakePinecone(dimension=1024)
    try:
        handle = Pinecone(api_key=big.api_key).index(host=big.url)
        values = [0.123456789012345] * 1024  # ~18 KB of JSON a vector, 120 make ~2.2 MB
        vectors = [(f"id{i}", values) for i in range(120)]
        with pytest.raises(ApiError) as caught:
            handle.upsert(vectors=vectors)
        assert len(big.requests_to("/vectors/upsert")[-1].body) > 2 * 1024 * 1024
        assert "larger than the maximum supported size - 2MB" in _body(caught.value)["message"]
        assert big.records() == {}
        handle.upsert(vectors=vectors[:60])
        assert len(big.records()) == 60
        handle.close()
    finally:
        big.close()


def test_metadata_over_40960_bytes_is_refused_with_its_size(fake: FakePinecone, index: Any) -> None:
    metadata = {"title": "x" * 41_000}
    size = len(json.dumps(metadata, separators=(",", ":")))
    with pytest.raises(ApiError) as caught:
        index.upsert(vectors=[("ok", _vec(1, 0, 0, 0)), ("big", _vec(1, 0, 0, 0), metadata)])
    assert _body(caught.value)["message"] == (
        f"Metadata size is {size} bytes, which exceeds the limit of 40960 bytes per vector"
    )
    assert fake.records() == {}  # all or nothing
    index.upsert(vectors=[("fits", _vec(1, 0, 0, 0), {"title": "x" * 40_000})])
    assert set(fake.records()) == {"fits"}


@pytest.mark.parametrize(
    "metadata",
    [{"missing": None}, {"nested": {"a": 1}}, {"mixed": ["a", 1]}],
    ids=["null", "nested", "mixed-list"],
)
def test_metadata_pinecone_cannot_hold_is_refused(
    fake: FakePinecone, metadata: dict[str, Any]
) -> None:
    # Raw HTTP: the SDK itself refuses some of these before sending.
    vectors = [
        {"id": "ok", "values": [1, 0, 0, 0]},
        {"id": "a", "values": [1, 0, 0, 0], "metadata": metadata},
    ]
    response = httpx.post(
        f"{fake.url}/vectors/upsert",
        json={"vectors": vectors},
        headers={"Api-Key": fake.api_key},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3
    assert "must be a string, number, boolean or list of strings" in body["message"]
    assert fake.records() == {}


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ([1.0, 0.0, 0.0], "Vector dimension 3 does not match the dimension of the index 4"),
        ([0.0, 0.0, 0.0, 0.0], "at least one non-zero value"),
    ],
)
def test_bad_vectors_are_refused(index: Any, values: list[float], fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        index.upsert(vectors=[("a", values)])
    assert fragment in _body(caught.value)["message"]


def test_top_k_over_1000_with_metadata_is_refused(index: Any) -> None:
    index.upsert(vectors=[("a", _vec(1, 0, 0, 0))])
    with pytest.raises(ApiError, match="topK"):
        index.query(vector=_vec(1, 0, 0, 0), top_k=1001, include_metadata=True)
    assert len(index.query(vector=_vec(1, 0, 0, 0), top_k=1001).matches) == 1


def test_malformed_filter_is_refused(index: Any) -> None:
    with pytest.raises(ApiError, match="Invalid filter"):
        index.query(vector=_vec(1, 0, 0, 0), top_k=1, filter={"a": {"$regex": "x"}})


def test_wrong_api_key_gets_401(fake: FakePinecone) -> None:
    handle = Pinecone(api_key="wrong-key").index(host=fake.url)
    with pytest.raises(UnauthorizedError) as caught:
        handle.describe_index_stats()
    assert _body(caught.value) == {"code": 16, "message": "Invalid API Key", "details": []}
    handle.close()


def test_delete_by_ids_filter_and_all(fake: FakePinecone, index: Any) -> None:
    index.upsert(
        vectors=[
            (f"v{i}", _vec(1, i, 0, 0), {"group": "odd" if i % 2 else "even"}) for i in range(6)
        ],
        namespace="ns",
    )
    index.delete(ids=["v0", "nope"], namespace="ns")
    index.delete(filter={"group": "odd"}, namespace="ns")
    assert set(fake.records("ns")) == {"v2", "v4"}
    assert index.describe_index_stats(filter={"group": "even"}).total_vector_count == 2
    index.delete(delete_all=True, namespace="ns")
    assert "ns" not in index.describe_index_stats().namespaces  # empty namespaces vanish


def test_queued_faults_are_served_first_and_the_sdk_retries_them(
    fake: FakePinecone, index: Any
) -> None:
    fake.queue(
        FakePinecone.error(429, "Too many requests", retry_after="0"),
        FakePinecone.error(503, "Service unavailable", retry_after="0"),
        path="/vectors/upsert",
    )
    index.describe_index_stats()  # faults for another path are kept
    assert index.upsert(vectors=[("a", _vec(1, 0, 0, 0))]).upserted_count == 1
    assert [r.path for r in fake.requests].count("/vectors/upsert") == 3
    assert set(fake.records()) == {"a"}


def test_retry_after_is_sent_and_a_429_carries_pinecone_body(fake: FakePinecone) -> None:
    fake.queue(*[FakePinecone.error(429, "Too many requests", retry_after="0")] * 4)
    handle = Pinecone(api_key=fake.api_key).index(host=fake.url)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        handle.describe_index_stats()
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 0
    assert _body(caught.value)["code"] == 8
    assert len(fake.requests) == 4  # the SDK's first try and three retries
    handle.close()


def test_control_plane_creates_describes_and_refuses_a_second_create() -> None:
    with FakePinecone(dimension=None, index_name="photos") as fake:
        client = Pinecone(api_key=fake.api_key, host=fake.url)
        with pytest.raises(NotFoundError):
            client.indexes.describe("photos")
        schema = {
            "fields": {"_values": {"type": "dense_vector", "dimension": 6, "metric": "cosine"}}
        }
        deployment = {"deployment_type": "managed", "cloud": "gcp", "region": "us-central1"}
        model = client.indexes.create(name="photos", schema=schema, deployment=deployment)
        assert model.status.ready
        assert model.host == fake.url
        assert (fake.dimension, fake.cloud, fake.region) == (6, "gcp", "us-central1")
        with pytest.raises(ConflictError):
            client.indexes.create(name="photos", schema=schema, deployment=deployment)
        handle = client.index(name="photos")
        handle.upsert(vectors=[("a", [1.0] * 6)])
        assert handle.describe_index_stats().dimension == 6
        handle.close()
        client.close()
