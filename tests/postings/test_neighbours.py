"""Neighbours of every record, in batches: the same as one query per record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from img2img.models import VectorRecord
from img2img.postings.neighbours import ManyQueries, nearest_neighbours
from img2img.stores.local.store import LocalStore
from img2img.stores.memory import InMemoryStore

DIM = 32


def records(n: int) -> list[VectorRecord]:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((30, DIM)).astype(np.float32)
    rows = centres[rng.integers(0, 30, n)] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return [VectorRecord(f"r{i}", rows[i], {"side": ["a", "b"][i % 2]}) for i in range(n)]


def neighbour_ids(store: object, **options: object) -> dict[str, list[str]]:
    found = nearest_neighbours(store, k=5, batch_size=300, **options)  # type: ignore[arg-type]
    return {record.id: [m.id for m in matches] for record, matches in found}


@pytest.mark.parametrize(
    "options", [{"min_score": 0.5}, {"min_score": 0.3, "filter": {"side": "a"}}]
)
def test_batched_neighbours_are_the_per_record_ones(tmp_path: Path, options: dict) -> None:
    data = records(2000)
    memory = InMemoryStore()
    memory.upsert(data)
    assert not isinstance(memory, ManyQueries)  # asked one record at a time
    truth = neighbour_ids(memory, **options)
    with LocalStore(tmp_path / "exact.sqlite3") as exact:
        exact.upsert(data)
        assert isinstance(exact, ManyQueries)
        batched = neighbour_ids(exact, **options)
        # Blocked products round differently from one dot product: order near-ties alike.
        assert {i: set(ids) for i, ids in batched.items()} == {
            i: set(ids) for i, ids in truth.items()
        }
    pytest.importorskip("usearch")
    with LocalStore(tmp_path / "hnsw.sqlite3", index="hnsw", scan_below=0) as approximate:
        approximate.upsert(data)
        found = neighbour_ids(approximate, **options)
    assert found.keys() == truth.keys()
    same = sum(len(set(found[i]) & set(truth[i])) for i in truth)
    assert same >= 0.95 * sum(len(t) for t in truth.values())


def test_query_many_answers_as_query_does(tmp_path: Path) -> None:
    data = records(500)
    with LocalStore(tmp_path / "s.sqlite3") as store:
        store.upsert(data)
        store.delete(["r3", "r10"])
        probes = np.stack([r.vector for r in data[:40]])
        many = store.query_many(probes, k=7, filter={"side": "b"})
        for probe, answer in zip(probes, many, strict=True):
            one = store.query(probe, k=7, filter={"side": "b"})
            assert [m.id for m in answer] == [m.id for m in one]
            assert [m.score for m in answer] == pytest.approx([m.score for m in one], abs=1e-5)
        assert store.query_many(probes[:2], k=3, min_score=2.0) == [[], []]
        assert store.query_many(np.zeros((0, DIM), np.float32)) == []


def _store_whose_graph_misses(path: Path, lost: list[int]) -> LocalStore:
    """A graph store whose graph holds a far-off vector for the records ``lost``: no
    graph search reaches them, as HNSW leaves a pruned-off cluster unreached."""
    pytest.importorskip("usearch")
    data = records(2000)
    twin = data[7].vector + 0.05 * np.random.default_rng(9).standard_normal(DIM).astype(np.float32)
    data[11] = VectorRecord("r11", twin / np.linalg.norm(twin), {"side": "b"})
    store = LocalStore(path, index="hnsw", scan_below=0)
    store.upsert(data)
    store.query(data[0].vector, k=1)  # the graph, built and held in memory
    graph = store._graphs.graph
    assert graph is not None
    far = -data[7].vector[None, :]
    for slot in lost:
        graph.add(np.asarray([slot]), far)
    return store


def test_records_the_graph_does_not_reach_are_asked_again_exactly(tmp_path: Path) -> None:
    with _store_whose_graph_misses(tmp_path / "hnsw.sqlite3", lost=[7, 11]) as store:
        assert "r7" not in [m.id for m in store.query(store.fetch(["r7"])["r7"].vector, k=5)]
        found = neighbour_ids(store, min_score=0.5)
    assert "r11" in found["r7"]
    assert "r7" in found["r11"]
    # No other record's search reaches them, so they are given more neighbours than k (5).
    assert 5 < len(found["r7"]) <= 15
    assert max(len(ids) for ids in found.values()) <= 15


def test_past_the_budget_the_graph_answers_and_a_warning_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from img2img.postings import neighbours

    monkeypatch.setattr(neighbours, "EXACT_RETRIES", 1)
    with (
        _store_whose_graph_misses(tmp_path / "hnsw.sqlite3", lost=[7, 11]) as store,
        pytest.warns(UserWarning, match=r"\d+ records were not reached") as caught,
    ):
        found = neighbour_ids(store, min_score=0.5)
    # r11 at least (a few others the small graph misses on its own may be counted too).
    # Other warnings (a ResourceWarning of an earlier test's garbage) may be caught too.
    message = next(str(w.message) for w in caught if "were not reached" in str(w.message))
    assert int(message.split()[0].replace(",", "")) >= 1
    # The budget went to r7 (scanned first), which finds its twin; r11 kept the graph's answer.
    assert "r11" in found["r7"]
    assert "r7" not in found["r11"]


def test_an_exact_store_full_of_copies_is_not_asked_again(tmp_path: Path) -> None:
    copies = [VectorRecord(f"c{i}", records(1)[0].vector, {}) for i in range(12)]
    with LocalStore(tmp_path / "exact.sqlite3") as store:
        store.upsert(copies)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            found = nearest_neighbours(store, k=3, min_score=0.5)
            assert all(len(matches) == 3 for _, matches in found)


def test_the_ids_of_records_asked_again_are_given_to_the_caller(tmp_path: Path) -> None:
    unreached: set[str] = set()
    with _store_whose_graph_misses(tmp_path / "hnsw.sqlite3", lost=[7, 11]) as store:
        for record, _ in nearest_neighbours(store, k=5, min_score=0.5, unreached=unreached):
            if record.id in ("r7", "r11"):
                assert record.id in unreached  # told before the record is yielded
    assert {"r7", "r11"} <= unreached
    assert len(unreached) < 50  # the ones the graph missed, not the store
