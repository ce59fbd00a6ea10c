"""Random sequences of writes and filtered queries: the stores agree with a trivial model.

The model is a dict and a filter evaluator written here from docs/filters.md,
independently of img2img.filters, so a bug in the shared evaluator shows too.
Two LocalStore handles share one file, so catching up with another writer's
commits is exercised on every step that switches handle.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import img2img.stores.local.matrix as matrix_module
import img2img.stores.local.store as local_module
from img2img.models import VectorRecord
from img2img.stores.local.store import LocalStore
from img2img.stores.memory import InMemoryStore
from img2img.stores.search import top_k

DIM = 4
IDS = [f"id{i}" for i in range(12)]
COLOURS = ["red", "green", "blue"]

# -- the reference model --------------------------------------------------------------


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equal(field_value: Any, wanted: Any) -> bool:
    if isinstance(field_value, list):
        return any(e == wanted for e in field_value if isinstance(wanted, str))
    if isinstance(field_value, bool) or isinstance(wanted, bool):
        return type(field_value) is type(wanted) and field_value == wanted
    if isinstance(field_value, str) or isinstance(wanted, str):
        return type(field_value) is type(wanted) and field_value == wanted
    return float(field_value) == float(wanted)


def reference_match(flt: dict[str, Any], md: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            ok = all(reference_match(sub, md) for sub in cond)
        elif key == "$or":
            ok = any(reference_match(sub, md) for sub in cond)
        else:
            ops = cond if isinstance(cond, dict) else {"$eq": cond}
            ok = all(_operator(key, op, arg, md) for op, arg in ops.items())
        if not ok:
            return False
    return True


def _operator(key: str, op: str, arg: Any, md: dict[str, Any]) -> bool:
    present = key in md
    value = md.get(key)
    if op == "$exists":
        return present is arg
    if op == "$eq":
        return present and _equal(value, arg)
    if op == "$ne":
        return not (present and _equal(value, arg))
    if op == "$in":
        return present and any(_equal(value, a) for a in arg)
    if op == "$nin":
        return not (present and any(_equal(value, a) for a in arg))
    if not (present and _number(value)):
        return False
    return {
        "$gt": value > arg,
        "$gte": value >= arg,
        "$lt": value < arg,
        "$lte": value <= arg,
    }[op]


# -- strategies -----------------------------------------------------------------------

# Small integer components keep dot products exact in float32, so scores compare exactly.
vectors = st.lists(st.integers(-3, 3), min_size=DIM, max_size=DIM).map(
    lambda xs: np.asarray(xs, dtype=np.float32)
)
scalars = st.one_of(
    st.sampled_from(COLOURS), st.integers(-2, 2), st.sampled_from([0.5, 1.0]), st.booleans()
)
metadata = st.fixed_dictionaries(
    {},
    optional={
        "colour": st.one_of(st.sampled_from(COLOURS), st.integers(0, 2)),
        "n": st.one_of(st.integers(-2, 2), st.sampled_from([0.5, -1.5]), st.booleans()),
        "tags": st.lists(st.sampled_from(COLOURS), max_size=3, unique=True),
    },
)
conditions = st.one_of(
    scalars,
    st.fixed_dictionaries({"$eq": scalars}),
    st.fixed_dictionaries({"$ne": scalars}),
    st.fixed_dictionaries({"$in": st.lists(scalars, max_size=3)}),
    st.fixed_dictionaries({"$nin": st.lists(scalars, max_size=3)}),
    st.builds(
        lambda op, x: {op: x}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), st.integers(-2, 2)
    ),
    st.fixed_dictionaries({"$exists": st.booleans()}),
)
leaf_filters = st.dictionaries(
    st.sampled_from(["colour", "n", "tags"]), conditions, min_size=1, max_size=2
)
filters = st.recursive(
    leaf_filters,
    lambda inner: st.builds(
        lambda op, parts: {op: parts},
        st.sampled_from(["$and", "$or"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=5,
)
records = st.builds(VectorRecord, st.sampled_from(IDS), vectors, metadata)


class StoreVersusModel(RuleBasedStateMachine):
    """Subclasses say how to open a store; the rules and checks are shared."""

    handles = 1

    def open(self, index: int) -> Any:
        raise NotImplementedError

    @initialize()
    def start(self) -> None:
        self.model: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        self.stores = [self.open(i) for i in range(self.handles)]

    def teardown(self) -> None:
        for store in getattr(self, "stores", []):
            store.close()

    @rule(handle=st.integers(0, 1), batch=st.lists(records, max_size=6))
    def upsert(self, handle: int, batch: list[VectorRecord]) -> None:
        self.stores[handle % self.handles].upsert(batch)
        for r in batch:
            self.model[r.id] = (r.vector, dict(r.metadata))

    @rule(handle=st.integers(0, 1), ids=st.lists(st.sampled_from(IDS), max_size=4))
    def delete(self, handle: int, ids: list[str]) -> None:
        self.stores[handle % self.handles].delete(ids)
        for i in ids:
            self.model.pop(i, None)

    @rule(handle=st.integers(0, 1), flt=filters)
    def delete_by_filter(self, handle: int, flt: dict[str, Any]) -> None:
        self.stores[handle % self.handles].delete(filter=flt)
        self.model = {i: v for i, v in self.model.items() if not reference_match(flt, v[1])}

    @rule(handle=st.integers(0, 1), probe=vectors, k=st.integers(1, 8), flt=st.none() | filters)
    def query(self, handle: int, probe: np.ndarray, k: int, flt: dict[str, Any] | None) -> None:
        got = self.stores[handle % self.handles].query(probe, k=k, filter=flt)
        eligible = {
            i: float(v @ probe)
            for i, (v, md) in self.model.items()
            if flt is None or reference_match(flt, md)
        }
        expected_scores = sorted(eligible.values(), reverse=True)[:k]
        assert len(got) == len(expected_scores)
        assert [m.score for m in got] == expected_scores  # ties may swap ids, never scores
        for match in got:
            assert match.score == eligible[match.id]
            assert match.metadata == self.model[match.id][1]
        assert len({m.id for m in got}) == len(got)

    @rule(handle=st.integers(0, 1), ids=st.lists(st.sampled_from(IDS), max_size=5))
    def fetch(self, handle: int, ids: list[str]) -> None:
        got = self.stores[handle % self.handles].fetch(ids)
        assert set(got) == {i for i in ids if i in self.model}
        for i, rec in got.items():
            np.testing.assert_array_equal(rec.vector, self.model[i][0])
            assert rec.metadata == self.model[i][1]

    @invariant()
    def counts_agree(self) -> None:
        for store in getattr(self, "stores", []):
            assert store.count() == len(self.model)


class LocalStoreVersusModel(StoreVersusModel):
    handles = 2

    def open(self, index: int) -> LocalStore:
        if index == 0:
            self.folder = Path(tempfile.mkdtemp(prefix="img2img-prop-"))
            # Tiny blocks on disk and chunks in memory, so every boundary is crossed.
            self.sizes = (local_module.BLOCK_BYTES, matrix_module.CHUNK_BYTES)
            local_module.BLOCK_BYTES, matrix_module.CHUNK_BYTES = 3 * 4 * DIM, 5 * 4 * DIM
        return LocalStore(self.folder / "store.sqlite3")

    @precondition(lambda self: hasattr(self, "stores"))
    @rule(handle=st.integers(0, 1))
    def reopen(self, handle: int) -> None:
        self.stores[handle].close()
        self.stores[handle] = self.open(1)

    def teardown(self) -> None:
        super().teardown()
        if hasattr(self, "folder"):
            local_module.BLOCK_BYTES, matrix_module.CHUNK_BYTES = self.sizes
            shutil.rmtree(self.folder, ignore_errors=True)


class InMemoryStoreVersusModel(StoreVersusModel):
    def open(self, index: int) -> InMemoryStore:
        return InMemoryStore()


_settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestLocalStoreVersusModel = _settings(LocalStoreVersusModel).TestCase
TestInMemoryStoreVersusModel = _settings(InMemoryStoreVersusModel).TestCase


# -- picking the best k --------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40_000),
    k=st.integers(1, 40),
    levels=st.integers(1, 1000),
    seed=st.integers(0, 2**32 - 1),
)
def test_top_k_is_a_stable_argsort(n: int, k: int, levels: int, seed: int) -> None:
    # Few distinct levels means many ties, exactly where partial selection can go wrong.
    scores = (np.random.default_rng(seed).integers(0, levels, n) / levels).astype(np.float32)
    expected = np.argsort(-scores, kind="stable")[:k]
    np.testing.assert_array_equal(top_k(scores, k), expected)
