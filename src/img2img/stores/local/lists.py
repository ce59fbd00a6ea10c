"""Inverted lists over a LocalStore's vectors, built for one pass that asks for every record.

A pass over the whole store (``duplicates()``) asks each record's nearest
neighbours once. The store's HNSW graph answers a query in about 0.7 ms at a
million records, but must first be built (ten minutes at a million) and never
reaches some records of tight clusters, the near-duplicates such a pass looks
for. Inverted lists (faiss ``IndexIVFScalarQuantizer``: k-means lists, 4-bit
codes) cost seconds to build, hold every record in a list that its own vector
probes first, and scan a few lists a query in about a third of a graph
search's time. They live only while the pass does: nothing is written to disk.

Candidates are re-ranked with the store's float32 vectors, as the graph's
are, so scores stay exact; the lists cost recall only. They hold the slots
live when built: a slot freed since is masked out by the caller, one written
since is not a candidate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.errors import MissingDependencyError
from img2img.models import Match

__all__ = ["PASS_LISTS_FROM", "ListIndex", "PassQueries", "lists_available"]

Slots = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]

#: Records from which a pass over every record asks lists rather than the store:
#: below it the exact blocked scan is as quick (10 s of CPU at 50,000 512-d
#: vectors) and exact.
PASS_LISTS_FROM = 50_000
#: Lists probed a query. On the 16,000 records of 10,000 real-looking pictures
#: (benchmarks/pass_lists.py, duplicates_real.py --lists) 8 found 98.9 % of the exact
#: scan's neighbour pairs and a duplicates pass made 17,327 links of the scan's 17,596;
#: 16 found 99.6 % and made 17,502, at 0.85x of the exact scan's CPU there (8: 0.63x).
PROBES = 16
#: Rows k-means is trained on, per list (faiss asks for at least 39).
_TRAIN_PER_LIST = 40
#: Rows added to the lists at a time: a bounded float32 copy, whatever the store's size.
_ADD_ROWS = 16_384


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise MissingDependencyError(
            "faiss is needed for inverted lists: pip install 'img2img-search[ann]'"
        ) from exc
    return faiss


def lists_available() -> bool:
    """Whether faiss can be imported (the ``ann`` extra)."""
    try:
        _faiss()
    except MissingDependencyError:
        return False
    return True


def list_count(vectors: int) -> int:
    """About the square root of the size (1,000 lists at a million): training stays
    seconds, and a query scans the centroids and ``PROBES`` lists of about as many codes."""
    return max(1, min(4096, round(math.sqrt(vectors))))


class ListIndex:
    """The live slots of a store in inverted lists of 4-bit codes (an eighth of their
    float32 size), searched by inner product."""

    def __init__(self, index: Any, slots: Slots) -> None:
        self._index = index
        self.slots = slots  # the slots held, ascending
        sizes = np.asarray(
            [index.invlists.list_size(i) for i in range(index.nlist)], dtype=np.int64
        )
        #: The most candidates one search can give: the largest lists it may probe.
        self.reach = int(np.sort(sizes)[::-1][: index.nprobe].sum())

    @classmethod
    def build(cls, rows: Any, live: Mask, *, seed: int = 0) -> ListIndex:
        """Lists of the ``live`` slots of ``rows`` (anything with ``get(slots)`` giving
        float32 rows, as the store's vector holders do)."""
        faiss = _faiss()
        slots = np.flatnonzero(live)
        dimension = int(rows.get(slots[:1]).shape[1])
        lists = list_count(slots.shape[0])
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, lists, faiss.ScalarQuantizer.QT_4bit, faiss.METRIC_INNER_PRODUCT
        )
        rng = np.random.default_rng(seed)
        sample = np.sort(
            rng.choice(slots, min(slots.shape[0], _TRAIN_PER_LIST * lists), replace=False)
        )
        index.train(np.ascontiguousarray(rows.get(sample), dtype=np.float32))
        for start in range(0, slots.shape[0], _ADD_ROWS):
            part = slots[start : start + _ADD_ROWS]
            index.add_with_ids(
                np.ascontiguousarray(rows.get(part), dtype=np.float32), part.astype(np.int64)
            )
        index.nprobe = min(PROBES, lists)
        return cls(index, slots)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def stale(self, live: Mask) -> bool:
        """Whether a slot held here has been freed since (``live`` is the store's mask now)."""
        held = self.slots[self.slots < live.shape[0]]
        return held.shape[0] < self.slots.shape[0] or not bool(live[held].all())

    def search(self, queries: npt.NDArray[np.float32], count: int) -> Slots:
        """The ``count`` best slots of each query row by their codes: ``(n, count)``,
        -1 where the probed lists hold fewer."""
        count = max(1, min(count, self.reach))
        _, found = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), count)
        slots: Slots = found.astype(np.intp, copy=False)
        return slots


class PassQueries:
    """``query_many`` as one pass over a store asks it (``LocalStore.pass_queries``)."""

    def __init__(self, query_many: Callable[..., list[list[Match]]]) -> None:
        self.query_many = query_many
