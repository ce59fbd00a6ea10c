"""An HNSW graph over a LocalStore's slots, kept in one file beside the SQLite file.

The graph (usearch: Apache-2.0, wheels for every platform, an HNSW that
takes removals, and a save to bytes so one file holds it) is a cache of the
store, never its truth: it records the ``seq`` of the store it reflects, and
the store brings it up to date from SQLite (slots written or freed since that
``seq``) before it is searched. A crash at any point loses nothing: a graph
saved before the crash is caught up, a missing or damaged one is rebuilt.

File format (``<store>.hnsw``): one line of JSON (``format``, ``store_id``,
``seq``, ``dimension``, ``quantization``, ``bytes``), a newline, then
usearch's bytes (``bytes`` of them). It is written to a temporary file and
renamed over the old one, so a reader sees the old graph or the new one,
never half of one. A graph that is only searched is memory-mapped, not read:
opening it takes no time whatever its size, and only the pages a search
touches are read (and may be dropped again by the system).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "QUANTIZATIONS",
    "ApproximateIndex",
    "check_quantization",
    "index_path",
    "usearch_available",
]

#: How the graph holds vectors: ``f32`` as given, ``f16`` half the memory,
#: ``i8`` a quarter. Scores returned are always exact: candidates are re-ranked
#: with the store's float32 vectors.
QUANTIZATIONS = ("f32", "f16", "i8")
_FORMAT = 1
# Links per node and the beam while building: on 100,000 clustered 512-d vectors
# a build beam of 64 reached recall@10 1.000 (search beam 64, exact re-rank) in
# half the time of 128, but at 1,000,000 it fell to 0.72 where 128 keeps 0.97
# (docs/performance.md, benchmarks/hnsw_build.py): the store keeps 128.
_CONNECTIVITY = 16
_EXPANSION_ADD = 128
_EXPANSION_SEARCH = 64

Slots = npt.NDArray[np.intp]


def index_path(store_path: Path) -> Path:
    """Where the graph of the store at ``store_path`` is kept."""
    return store_path.with_name(store_path.name + ".hnsw")


def _usearch() -> Any:
    try:
        from usearch.index import Index
    except ImportError as exc:
        raise MissingDependencyError(
            "the approximate index needs usearch: pip install 'img2img-search[ann]'"
        ) from exc
    return Index


def usearch_available() -> bool:
    """Whether the approximate index can be used (its extra is installed)."""
    try:
        _usearch()
    except MissingDependencyError:
        return False
    return True


def check_quantization(quantization: str) -> None:
    if quantization not in QUANTIZATIONS:
        raise ConfigurationError(
            f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}"
        )


class ApproximateIndex:
    """Slots of unit vectors in an HNSW graph, searched by inner product.

    Not thread-safe: the store calls it under its own lock.
    """

    def __init__(
        self,
        dimension: int,
        quantization: str = "f32",
        *,
        graph: Any = None,
        mapping: memoryview | None = None,
    ) -> None:
        check_quantization(quantization)
        self.dimension = dimension
        self.quantization = quantization
        self.seq = -1  # the store's seq this graph reflects; -1: nothing yet
        # The file's pages a viewed graph searches in place: kept alive with it.
        self._mapping = mapping
        self._graph = graph or _usearch()(
            ndim=dimension,
            metric="ip",
            dtype=quantization,
            connectivity=_CONNECTIVITY,
            expansion_add=_EXPANSION_ADD,
            expansion_search=_EXPANSION_SEARCH,
        )

    def __len__(self) -> int:
        return int(self._graph.size)

    @property
    def reach(self) -> int:
        """The most candidates one search can give: every slot held."""
        return len(self)

    @property
    def viewed(self) -> bool:
        """Whether the graph is searched in its memory-mapped file (and so cannot change)."""
        return self._mapping is not None

    def _check_changeable(self) -> None:
        # usearch refuses an add to a viewed graph but crashes the process on a removal.
        if self.viewed:
            raise RuntimeError("a memory-mapped graph cannot change: load it into memory first")

    def remove(self, slots: Slots) -> None:
        """Take ``slots`` out; slots not in the graph are ignored."""
        self._check_changeable()
        if slots.shape[0]:
            self._graph.remove(slots.astype(np.uint64))

    def add(self, slots: Slots, rows: npt.NDArray[np.float32]) -> None:
        """Put ``rows[i]`` in at ``slots[i]``, replacing what was there."""
        self._check_changeable()
        if not slots.shape[0]:
            return
        keys = slots.astype(np.uint64)
        self._graph.remove(keys)
        self._graph.add(keys, np.ascontiguousarray(rows, dtype=np.float32), threads=_threads())

    def search(self, queries: npt.NDArray[np.float32], count: int) -> Slots:
        """The ``count`` nearest slots of each query row: ``(n, count)``, -1 where fewer."""
        count = max(1, min(count, len(self)))
        self._graph.expansion_search = max(_EXPANSION_SEARCH, count)
        found = self._graph.search(
            np.ascontiguousarray(queries, dtype=np.float32), count, threads=_threads()
        )
        if hasattr(found, "counts"):
            keys = np.asarray(found.keys, dtype=np.int64).reshape(queries.shape[0], -1)
            counts = np.asarray(found.counts).reshape(-1)
        else:  # one query: usearch answers with its keys alone
            keys = np.asarray(found.keys, dtype=np.int64).reshape(1, -1)
            counts = np.asarray([keys.shape[1]])
        out = np.full((queries.shape[0], count), -1, dtype=np.intp)
        for row, (have, got) in enumerate(zip(counts.tolist(), keys, strict=True)):
            out[row, :have] = got[:have]
        return out

    # -- the file beside the store -----------------------------------------------

    def save(self, path: Path, store_id: str) -> None:
        """Write the graph and the ``seq`` it reflects to ``path``, atomically."""
        body = self._graph.save()
        header = {
            "format": _FORMAT,
            "store_id": store_id,
            "seq": self.seq,
            "dimension": self.dimension,
            "quantization": self.quantization,
            "bytes": len(body),
        }
        handle, temporary = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(json.dumps(header).encode() + b"\n")
                out.write(memoryview(body))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @classmethod
    def load(
        cls, path: Path, *, store_id: str, dimension: int, quantization: str, view: bool = False
    ) -> ApproximateIndex | None:
        """The graph saved at ``path`` if it belongs to this store and shape; else ``None``.

        ``view=True`` maps the file instead of reading it (see the module's
        docstring); the graph then cannot change. A missing, damaged or
        foreign file is not an error: the store rebuilds.
        """
        try:
            with path.open("rb") as file:
                data: Any = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            newline = data.find(b"\n", 0, 4096)
            if newline < 0:
                return None
            header = json.loads(data[:newline])
            expected = {
                "format": _FORMAT,
                "store_id": store_id,
                "seq": header.get("seq"),
                "dimension": dimension,
                "quantization": quantization,
            }
            if "bytes" in header:  # graphs saved before it was recorded have no length
                expected["bytes"] = len(data) - newline - 1
            if header != expected or not isinstance(header["seq"], int):
                return None
            body = memoryview(data)[newline + 1 :]
            if view and "bytes" in header:
                graph = _usearch().restore(body, view=True)
            else:
                view, graph = False, _usearch().restore(body)
                body.release()
        except (OSError, ValueError, RuntimeError, KeyError, TypeError):
            return None
        if graph is None or graph.ndim != dimension:
            return None
        index = cls(dimension, quantization, graph=graph, mapping=body if view else None)
        index.seq = header["seq"]
        return index


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))
