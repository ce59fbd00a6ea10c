"""Keeping a LocalStore's HNSW graph in step with its SQLite file.

The graph answers for the store only once it reflects the store's current
``seq``: loaded from beside the file on first use (or rebuilt, if missing,
damaged, or another store's), then caught up with every slot written or freed
since the ``seq`` it reflects. The catching up is the same whether the writes
were this handle's, another process's, or lost with a crash before the graph
was saved. A saved graph that is already up to date is memory-mapped, so a
store that is only searched opens its graph at once; one that must catch up
is read into memory, where it can change.

A long run of writes brings the graph along a batch at a time
(:meth:`GraphKeeper.lagging`), so the graph's cost is paid while indexing, a
small share of embedding, and the first search after indexing a million
images does not build it whole. A few writes into a big store do not load
its graph: the next search catches it up.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.stores.local.approximate import ApproximateIndex, index_path
from img2img.stores.local.mapped import MappedVectors
from img2img.stores.local.matrix import SlotMatrix

__all__ = ["GraphKeeper"]

# Save the graph after this many changed vectors (or a quarter of the store):
# what a crash costs is replaying them from SQLite at the next open.
_SAVE_AFTER_CHANGES = 50_000
_ADD_BATCH = 10_000
#: Writes by one handle after which its next write catches the graph up.
CATCH_UP_AFTER = 10_000


class GraphKeeper:
    """The graph of the store at ``store_path``, held in memory and saved beside the file."""

    def __init__(self, store_path: Path, quantization: str) -> None:
        self.path = index_path(store_path)
        self.quantization = quantization
        self.graph: ApproximateIndex | None = None
        self._unsaved = 0  # vectors changed in the graph since it was saved
        self._lag = 0  # vectors this handle wrote since the graph last caught up
        self._store_id: str | None = None

    def forget(self) -> None:
        """Drop the graph from memory (the store's memory was reset)."""
        self.graph, self._unsaved = None, 0

    def lagging(self, written: int) -> bool:
        """Count ``written`` vectors; whether the graph is now due to be caught up."""
        self._lag += written
        return self._lag >= CATCH_UP_AFTER

    @property
    def behind_in_memory(self) -> bool:
        """Whether the graph is held in memory, changeable, and this handle wrote since it caught up."""
        return self.graph is not None and not self.graph.viewed and self._lag > 0

    def caught_up(
        self,
        con: sqlite3.Connection,
        *,
        store_id: str | None,
        seq: int,
        vectors: SlotMatrix | MappedVectors,
        live: npt.NDArray[np.bool_],
    ) -> ApproximateIndex:
        """The graph of the store as of ``seq``, read in the transaction ``con`` is in.

        ``vectors`` and ``live`` (one flag per slot) are the store's memory,
        already caught up to ``seq``.
        """
        self._store_id = store_id
        self._lag = 0
        count = int(np.count_nonzero(live))
        graph = self.graph
        if graph is None:
            graph = self._load(seq, vectors.dimension, view=True)
        if graph is not None and graph.viewed and graph.seq < seq:
            graph = self._load(seq, vectors.dimension, view=False)  # to be caught up
        if graph is None:
            return self._rebuild(seq, vectors, live)
        if graph.seq < seq:
            since = (graph.seq,)
            freed = con.execute("SELECT slot FROM freed WHERE seq > ?", since).fetchall()
            changed = con.execute("SELECT slot FROM records WHERE seq > ?", since).fetchall()
            graph.remove(np.asarray([s for (s,) in freed], dtype=np.intp))
            _add(graph, np.asarray([s for (s,) in changed], dtype=np.intp), vectors)
            graph.seq = seq
            self._unsaved += len(freed) + len(changed)
        self.graph = graph
        if len(graph) != count:  # never expected: rebuild rather than answer wrongly
            return self._rebuild(seq, vectors, live)
        if self._unsaved >= max(_SAVE_AFTER_CHANGES, count // 4):
            self.save()
        return graph

    def _load(self, seq: int, dimension: int, *, view: bool) -> ApproximateIndex | None:
        """The graph saved beside the file, if it is this store's and not ahead of ``seq``."""
        if self._store_id is None:
            return None
        graph = ApproximateIndex.load(
            self.path,
            store_id=self._store_id,
            dimension=dimension,
            quantization=self.quantization,
            view=view,
        )
        if graph is not None and graph.seq > seq:
            return None  # ahead of the file: not a graph of this file
        return graph

    def _rebuild(
        self, seq: int, vectors: SlotMatrix | MappedVectors, live: npt.NDArray[np.bool_]
    ) -> ApproximateIndex:
        graph = ApproximateIndex(vectors.dimension, self.quantization)
        _add(graph, np.flatnonzero(live), vectors)
        graph.seq = seq
        self.graph = graph
        self.save()
        return graph

    def save(self) -> None:
        """Keep the graph beside the file if it changed; failing to is not an error (it is rebuilt)."""
        if self.graph is None or self._store_id is None:
            return
        try:
            self.graph.save(self.path, self._store_id)
        except OSError as exc:
            warnings.warn(f"could not save the approximate index {self.path}: {exc}", stacklevel=3)
        self._unsaved = 0

    @property
    def unsaved(self) -> bool:
        return self.graph is not None and self._unsaved > 0


def _add(
    graph: ApproximateIndex, slots: npt.NDArray[Any], vectors: SlotMatrix | MappedVectors
) -> None:
    for start in range(0, slots.shape[0], _ADD_BATCH):
        part = slots[start : start + _ADD_BATCH]
        graph.add(part, vectors.get(part))
