"""A pass over every record asks inverted lists built for it (``LocalStore.pass_queries``).

- what the lists answer is what the exact scan answers (>= 95 % of the top 10), with
  exact scores, filtered or not, from a store holding its vectors in memory or mapped;
- every record finds itself and its near copy;
- records deleted after the lists were built are never answered, and records written
  after are answered by nothing but do no harm;
- below ``lists_from`` records, or without faiss, the pass asks the store itself;
- ``duplicates()`` through the lists finds the groups the exact scan finds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from img2img import HashEmbedder, ImageSearchClient
from img2img.models import VectorRecord
from img2img.postings.neighbours import nearest_neighbours
from img2img.stores.local import store as store_module
from img2img.stores.local.lists import ListIndex, list_count
from img2img.stores.local.store import LocalStore
from img2img.testing.edits import apply_edit
from img2img.testing.photos import sample_photos
from vector_sets import clustered, fill, overlap

pytest.importorskip("faiss")

N = 3000


def ids(answers: list[list]) -> list[list[str]]:
    return [[m.id for m in matches] for matches in answers]


@pytest.mark.parametrize("vectors", ["memory", "mapped"])
def test_the_lists_answer_what_the_exact_scan_answers(tmp_path: Path, vectors: str) -> None:
    rows = clustered(N, seed=4)
    with LocalStore(tmp_path / "s.sqlite3", vectors=vectors) as store:
        fill(store, rows)
        store.lists_from = 0
        queries = rows[::7]
        truth = store.query_many(queries, k=10)
        with store.pass_queries() as asked:
            found = asked.query_many(queries, k=10)
            filtered = asked.query_many(queries, k=10, filter={"domain": "site3.example"})
        filtered_truth = store.query_many(queries, k=10, filter={"domain": "site3.example"})
    assert overlap(ids(found), ids(truth)) >= 0.95
    assert overlap(ids(filtered), ids(filtered_truth)) >= 0.95
    assert all(m.metadata["domain"] == "site3.example" for a in filtered for m in a)
    # Scores are the float32 dot products, not the 4-bit codes' estimates.
    for answer, query in zip(found, queries, strict=True):
        for match in answer:
            row = int(match.id[1:])
            assert match.score == pytest.approx(float(rows[row] @ query), abs=1e-5)


def test_every_record_finds_itself_and_its_near_copy(tmp_path: Path) -> None:
    rows = clustered(N, seed=5)
    rng = np.random.default_rng(5)
    copies = rows[:200] + 0.01 * rng.standard_normal(rows[:200].shape).astype(np.float32)
    rows = np.concatenate([rows, copies / np.linalg.norm(copies, axis=1, keepdims=True)])
    with LocalStore(tmp_path / "s.sqlite3") as store:
        fill(store, rows)
        store.lists_from = 0
        found = {
            record.id: [m.id for m in matches]
            for record, matches in nearest_neighbours(store, k=5, min_score=0.3)
        }
    assert all(f"r{N + i}" in found[f"r{i}"] for i in range(200))
    assert all(f"r{i}" in found[f"r{N + i}"] for i in range(200))


def test_records_deleted_after_the_build_are_never_answered(tmp_path: Path) -> None:
    rows = clustered(N, seed=6)
    with LocalStore(tmp_path / "s.sqlite3") as store:
        fill(store, rows[: N - 100])
        store.lists_from = 0
        with store.pass_queries() as asked:
            gone = [f"r{i}" for i in range(0, N - 100, 3)]
            store.delete(gone)
            fill(store, rows[N - 100 :], first=N - 100)  # written after the build
            found = asked.query_many(rows[:300], k=10)
            truth = store.query_many(rows[:300], k=10)
            later = asked.query_many(rows[N - 1 :], k=10)
    # Through the lists, which hold no record written after them: not even the one
    # asked with its own vector (the store's own scan finds it first).
    assert f"r{N - 1}" not in ids(later)[0]
    answered = {m.id for answer in found for m in answer}
    assert not answered & set(gone)
    assert all(len(answer) == 10 for answer in found)
    # Only records written after the build are missing from the lists' answers.
    written_after = {f"r{i}" for i in range(N - 100, N)}
    kept = [[i for i in answer if i not in written_after] for answer in ids(truth)]
    assert overlap(ids(found), kept) >= 0.95


def test_small_stores_and_stores_without_faiss_ask_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = clustered(500, seed=7)
    with LocalStore(tmp_path / "s.sqlite3") as store:
        fill(store, rows)
        assert store.lists_from > 500
        with store.pass_queries() as asked:
            assert asked.query_many == store.query_many
        store.lists_from = 0
        store.delete([f"r{i}" for i in range(500)])
        with store.pass_queries() as asked:  # an empty store has nothing to build lists of
            assert asked.query_many == store.query_many
            assert asked.query_many(rows[:2], k=3) == [[], []]
        fill(store, rows)
        monkeypatch.setattr(store_module, "lists_available", lambda: False)
        with store.pass_queries() as asked:
            assert asked.query_many == store.query_many


def test_a_search_gives_no_more_than_its_probed_lists_hold(tmp_path: Path) -> None:
    rows = clustered(N, seed=8)
    with LocalStore(tmp_path / "s.sqlite3") as store:
        fill(store, rows)
        lists = ListIndex.build(store._vectors, store._live[: store._slots])
    assert len(lists) == N
    assert list_count(N) == 55
    assert 0 < lists.reach < N
    found = lists.search(rows[:5], N)
    assert found.shape == (5, lists.reach)
    assert all(row[0] == i for i, row in enumerate(found))  # itself, first
    # Asked through the lists (not scanned for being few), a filter the probed lists
    # cannot satisfy is answered by the exact scan of what it selects.
    few = {"n": {"$gte": N - 12}}
    with LocalStore(tmp_path / "s.sqlite3", scan_below=0) as store:
        store.lists_from = 0
        with store.pass_queries() as asked:
            answer = asked.query_many(rows[:3], k=10, filter=few)
        truth = store.query_many(rows[:3], k=10, filter=few, exact=True)
    assert ids(answer) == ids(truth)
    assert all(len(a) == 10 for a in answer)


def test_duplicates_through_the_lists_are_the_groups_the_scan_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    build = ListIndex.build

    def counted(*args: object, **kwargs: object) -> ListIndex:
        lists = build(*args, **kwargs)  # type: ignore[arg-type]
        built.append(len(lists))
        return lists

    monkeypatch.setattr(store_module.ListIndex, "build", counted)
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, photo in sample_photos(("coffee", "astronaut", "rocket")).items():
        photo.save(folder / f"{name}.png")
        for edit in ("resize", "jpeg70"):
            apply_edit(photo, edit, seed=0).save(folder / f"{name}-{edit}.jpg")
    filler = clustered(2000, seed=9, dim=64)

    def groups(lists_from: int) -> list[list[str]]:
        path = tmp_path / f"store-{lists_from}.sqlite3"
        store = LocalStore(path)
        store.lists_from = lists_from
        with store, ImageSearchClient(embedder=HashEmbedder(64), store=store) as client:
            assert not client.add([folder]).failed
            store.upsert(
                [
                    VectorRecord(f"filler-{i}", v, {"title": f"filler {i}"})
                    for i, v in enumerate(filler)
                ]
            )
            return sorted(sorted(p.title or "" for p in g.postings) for g in client.duplicates())

    through_lists, scanned = groups(0), groups(10**9)
    assert built == [2009]  # the first pass built lists of every record, the second none
    assert through_lists == scanned
    assert len(scanned) == 3
    assert all(len(g) == 3 for g in scanned)
