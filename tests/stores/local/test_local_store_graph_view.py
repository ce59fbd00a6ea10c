"""A saved graph that is up to date is memory-mapped, not read; one that must change is loaded.

- a mapped graph answers what the graph read into memory answers;
- it refuses changes with an error (usearch would crash the process on a removal);
- a store whose mapped graph falls behind (its own writes, another handle's) loads it and
  catches it up, and saves what it changed;
- a graph file cut short is not mapped (its recorded length differs): the store rebuilds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from img2img.models import VectorRecord
from img2img.stores.local.approximate import ApproximateIndex, index_path
from img2img.stores.local.store import LocalStore

pytest.importorskip("usearch")

DIM = 32


def unit_rows(n: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def fill(store: LocalStore, vectors: np.ndarray, first: int = 0) -> None:
    store.upsert(
        [VectorRecord(f"r{first + i}", v, {"n": first + i}) for i, v in enumerate(vectors)]
    )


def store_id(path: Path) -> str:
    return str(json.loads(index_path(path).read_bytes().split(b"\n", 1)[0])["store_id"])


def saved_store(tmp_path: Path, vectors: np.ndarray) -> Path:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        fill(store, vectors)
        store.query(vectors[0], k=1)  # builds and saves the graph
    return path


def test_a_mapped_graph_answers_as_the_loaded_one_and_refuses_changes(tmp_path: Path) -> None:
    vectors = unit_rows(500)
    path = saved_store(tmp_path, vectors)
    shape = {"store_id": store_id(path), "dimension": DIM, "quantization": "i8"}
    mapped = ApproximateIndex.load(index_path(path), view=True, **shape)
    loaded = ApproximateIndex.load(index_path(path), view=False, **shape)
    assert mapped is not None
    assert loaded is not None
    assert mapped.viewed
    assert not loaded.viewed
    assert len(mapped) == len(loaded) == 500
    assert (mapped.search(vectors[:20], 10) == loaded.search(vectors[:20], 10)).all()
    with pytest.raises(RuntimeError, match="memory-mapped"):
        mapped.remove(np.array([1], dtype=np.intp))
    with pytest.raises(RuntimeError, match="memory-mapped"):
        mapped.add(np.array([900], dtype=np.intp), vectors[:1])
    assert len(mapped) == 500


def test_a_store_writing_after_opening_its_mapped_graph_catches_it_up(tmp_path: Path) -> None:
    vectors = unit_rows(900)
    path = saved_store(tmp_path, vectors[:600])
    with (
        LocalStore(path, index="hnsw", quantization="i8") as store,
        LocalStore(path, index="hnsw", quantization="i8") as other,
    ):
        assert store.query(vectors[3], k=1)[0].id == "r3"  # searched through the mapped graph
        fill(store, vectors[600:750], first=600)
        store.delete(["r3", "r4"])
        assert store.query(vectors[700], k=1)[0].id == "r700"
        assert not {"r3", "r4"} & {m.id for m in store.query(vectors[3], k=20)}
        assert other.query(vectors[5], k=1)[0].id == "r5"  # mapped too, then written by store
        fill(other, vectors[750:], first=750)
        assert other.query(vectors[800], k=1)[0].id == "r800"
        assert store.query(vectors[850], k=1)[0].id == "r850"
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        assert store.count() == 898
        for i in (0, 650, 899):
            assert store.query(vectors[i], k=1)[0].id == f"r{i}"


def test_a_graph_file_cut_short_is_rebuilt_not_mapped(tmp_path: Path) -> None:
    vectors = unit_rows(400)
    path = saved_store(tmp_path, vectors)
    graph = index_path(path)
    graph.write_bytes(graph.read_bytes()[:-100])
    shape = {"store_id": store_id(path), "dimension": DIM, "quantization": "i8"}
    assert ApproximateIndex.load(graph, view=True, **shape) is None
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        assert store.query(vectors[123], k=1)[0].id == "r123"
    rebuilt = ApproximateIndex.load(graph, view=True, **shape)
    assert rebuilt is not None
    assert len(rebuilt) == 400
