"""Many queries to Pinecone at once: bounded, paced under its rate limit, throttling ridden out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from img2img.errors import ConfigurationError, InvalidVectorError, RateLimitError, StoreError
from img2img.models import VectorRecord
from img2img.net.retry import RetryPolicy
from img2img.postings.neighbours import ManyQueries, nearest_neighbours
from img2img.stores.memory import InMemoryStore
from img2img.stores.pinecone.pacing import RequestPace, run_paced
from img2img.stores.pinecone.store import PineconeStore
from img2img.testing.fake_pinecone import FakePinecone

pytest.importorskip("pinecone")

DIM = 8
FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=1.0)
THROTTLED = FakePinecone.error(429, "Too many requests", retry_after="0")


def rows(n: int, seed: int = 0) -> np.ndarray:
    out = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def records(n: int) -> list[VectorRecord]:
    return [
        VectorRecord(f"r{i}", row, {"side": ["a", "b"][i % 2]}) for i, row in enumerate(rows(n))
    ]


def make_store(fake: FakePinecone, **options: Any) -> PineconeStore:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("queries_per_second", 10_000)
    return PineconeStore(host=fake.url, api_key=fake.api_key, namespace="photos", **options)


@pytest.fixture
def fake() -> Iterator[FakePinecone]:
    with FakePinecone(dimension=DIM) as server:
        yield server


def test_query_many_answers_as_query_does(fake: FakePinecone) -> None:
    with make_store(fake) as store:
        store.upsert(records(60))
        probes = rows(25, seed=1)
        many = store.query_many(probes, k=6, filter={"side": "b"})
        assert len(many) == 25
        for probe, answer in zip(probes, many, strict=True):
            one = store.query(probe, k=6, filter={"side": "b"})
            assert [(m.id, m.score, m.metadata) for m in answer] == [
                (m.id, m.score, m.metadata) for m in one
            ]
        high = store.query_many(probes[:3], k=6, min_score=0.5)
        assert all(m.score >= 0.5 for answer in high for m in answer)
        assert store.query_many(np.zeros((0, DIM), np.float32)) == []


def test_bad_queries_are_refused_before_anything_is_sent(fake: FakePinecone) -> None:
    with make_store(fake) as store:
        store.upsert(records(5))
        sent = len(fake.requests_to("/query"))
        probes = rows(4)
        for bad in (probes[:, :3], probes[0], np.vstack([probes, np.zeros((1, DIM))])):
            with pytest.raises(InvalidVectorError):
                store.query_many(bad, k=2)
        with pytest.raises(InvalidVectorError):
            store.query_many(np.vstack([probes, np.full((1, DIM), np.nan)]), k=2)
        with pytest.raises(StoreError):
            store.query_many(probes, k=1001)
        assert len(fake.requests_to("/query")) == sent
    with pytest.raises(ConfigurationError):
        make_store(fake, query_concurrency=0)
    with pytest.raises(ConfigurationError):
        make_store(fake, queries_per_second=0)


def test_at_most_query_concurrency_requests_are_in_flight() -> None:
    with (
        FakePinecone(dimension=DIM, query_seconds=0.05) as fake,
        make_store(fake, query_concurrency=4) as store,
    ):
        store.upsert(records(20))
        started = time.monotonic()
        answers = store.query_many(rows(24, seed=2), k=3)
        seconds = time.monotonic() - started
    assert [len(a) for a in answers] == [3] * 24
    assert 2 <= fake.most_queries_at_once <= 4
    assert seconds < 24 * 0.05 * 0.75  # overlapped: well under one after another


def test_queries_are_paced_under_the_namespaces_rate_limit() -> None:
    with FakePinecone(dimension=DIM, query_rate_limit=40) as fake:
        with make_store(fake, queries_per_second=25, query_concurrency=8) as store:
            store.upsert(records(10))
            started = time.monotonic()
            answers = store.query_many(rows(40, seed=3), k=2)
            seconds = time.monotonic() - started
        assert len(answers) == 40
        assert fake.queries_throttled == 0
        assert len(fake.requests_to("/query")) == 40
    assert seconds >= 39 / 25 * 0.95


def test_a_throttled_query_is_retried_and_every_answer_kept_in_order(
    fake: FakePinecone,
) -> None:
    with make_store(fake, query_concurrency=3) as store:
        store.upsert(records(30))
        probes = rows(12, seed=4)
        expected = [[m.id for m in store.query(p, k=4)] for p in probes]
        fake.queue(THROTTLED, THROTTLED, path="/query")
        answers = store.query_many(probes, k=4)
    assert [[m.id for m in a] for a in answers] == expected
    assert len(fake.requests_to("/query")) == 12 + 12 + 2  # one by one, many, two throttled


def test_the_services_own_rate_limit_is_ridden_out() -> None:
    # Asked faster than the service allows, the 429s it answers are retried.
    with FakePinecone(dimension=DIM, query_rate_limit=10) as fake:
        retry = RetryPolicy(attempts=4, base_delay=0.3, max_delay=2.0)
        with make_store(fake, retry=retry, query_concurrency=4) as store:
            store.upsert(records(10))
            answers = store.query_many(rows(14, seed=5), k=2)
        assert [len(a) for a in answers] == [2] * 14
        assert fake.queries_throttled > 0


def test_persistent_throttling_raises_and_stops_sending(fake: FakePinecone) -> None:
    with make_store(fake, query_concurrency=2) as store:
        store.upsert(records(5))
        fake.queue(*[THROTTLED] * 200, path="/query")
        with pytest.raises(RateLimitError):
            store.query_many(rows(100, seed=6), k=2)
    assert len(fake.requests_to("/query")) < 100


def test_duplicates_ask_pinecone_a_page_at_a_time(fake: FakePinecone) -> None:
    data = records(40)
    memory = InMemoryStore()
    memory.upsert(data)
    truth = {
        r.id: {m.id for m in found}
        for r, found in nearest_neighbours(memory, k=3, min_score=-1.0, batch_size=15)
    }
    with make_store(fake, query_concurrency=4) as store:
        store.upsert(data)
        assert isinstance(store, ManyQueries)
        found = {
            r.id: {m.id for m in matches}
            for r, matches in nearest_neighbours(store, k=3, min_score=-1.0, batch_size=15)
        }
    assert found == truth


def test_the_pace_spaces_start_times() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pace = RequestPace(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pace.wait()
    assert slept == pytest.approx([0.25, 0.5])
    now[0] = 10.0  # long idle: no waiting, no burst saved up
    pace.wait()
    pace.wait()
    assert slept[2:] == pytest.approx([0.25])


def test_run_paced_keeps_order_and_raises_the_first_failure() -> None:
    pace = RequestPace(10_000)
    assert run_paced([lambda i=i: i * i for i in range(30)], concurrency=5, pace=pace) == [
        i * i for i in range(30)
    ]
    calls: list[int] = []

    def call(i: int) -> int:
        calls.append(i)
        if i == 3:
            raise ValueError("no")
        time.sleep(0.01)
        return i

    with pytest.raises(ValueError, match="no"):
        run_paced([lambda i=i: call(i) for i in range(200)], concurrency=2, pace=pace)
    assert len(calls) < 200
    with pytest.raises(ConfigurationError):
        run_paced([], concurrency=0, pace=pace)
