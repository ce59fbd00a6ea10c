"""Vectors in memory, addressed by slot, kept in fixed-size chunks.

One contiguous matrix would have to be reallocated and copied to grow: at a
million 512-d vectors that is a 2 GB copy into 3 GB of new memory, seconds of
page faults on a virtual machine. Chunks grow by adding a chunk, and a search
runs one BLAS matrix-vector product per chunk, which costs no more.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["SlotMatrix"]

#: Bytes per chunk: big enough that per-chunk overhead vanishes in a search.
CHUNK_BYTES = 64 * 1024 * 1024
_GATHER_ROWS = 2048
# Below this many values, a search is too quick to be worth a thread.
_PARALLEL_FROM = 8 * 1024 * 1024
_WORKERS = max(1, min(4, os.cpu_count() or 1))

Rows = npt.NDArray[np.float32]
Slots = npt.NDArray[np.intp]


def _dot(rows: Rows, query: npt.NDArray[np.float32], out: npt.NDArray[np.float32]) -> None:
    if hasattr(np, "vecdot"):  # numpy >= 2.0
        np.vecdot(rows, query, out=out)
    else:
        np.matmul(rows, query, out=out)


def _zeroed(rows: int, dimension: int, *, populate: bool) -> Rows:
    """A zeroed float32 ``(rows, dimension)`` array.

    For a chunk about to be filled (loading a store), ask the kernel for all
    its pages at once: faulting them in one by one, with the kernel compacting
    memory for huge pages on the way, took 1 to 5 s per 2 GB on the virtual
    machines we measured, against 0.8 s. Otherwise pages come lazily, as written.
    """
    flags = getattr(mmap, "MAP_POPULATE", 0)
    if populate and flags and hasattr(mmap, "MAP_ANONYMOUS"):
        flags |= mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        pages = mmap.mmap(-1, rows * dimension * 4, flags=flags)
        return np.frombuffer(pages, dtype=np.float32).reshape(rows, dimension)
    return np.zeros((rows, dimension), dtype=np.float32)


class SlotMatrix:
    """float32 rows of ``dimension`` values; rows never written read as zeros."""

    #: Scan scores are the exact float32 dot products (no re-rank needed).
    exact_scores = True

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.chunk_rows = max(1, CHUNK_BYTES // (4 * dimension))
        self._chunks: list[Rows] = []
        self._planned = 0  # chunks reserved; the last ones may still be being mapped
        self._ready = threading.Condition()
        self._mapper: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def capacity(self) -> int:
        return self._planned * self.chunk_rows

    def reserve(self, slots: int) -> None:
        """Make slots ``0 .. slots-1`` addressable."""
        wanted = -(-slots // self.chunk_rows)
        if wanted <= self._planned:
            return
        self._settle()
        first, self._planned = self._planned, wanted
        if wanted - first == 1:
            self._map(first, wanted, slots)
            self._settle()
        else:
            # Loading a store: map later chunks on a helper thread while the caller
            # fills earlier ones from the file. Mapping 2 GB took 1 to 3 s here.
            self._mapper = threading.Thread(
                target=self._map, args=(first, wanted, slots), daemon=True
            )
            self._mapper.start()

    def _map(self, first: int, wanted: int, slots: int) -> None:
        try:
            for index in range(first, wanted):
                filled = slots - index * self.chunk_rows >= self.chunk_rows // 2
                chunk = _zeroed(self.chunk_rows, self.dimension, populate=filled)
                with self._ready:
                    self._chunks.append(chunk)
                    self._ready.notify_all()
        except BaseException as exc:  # re-raised to whoever waits for the chunk
            with self._ready:
                self._failure = exc
                self._ready.notify_all()

    def _chunk(self, index: int) -> Rows:
        if index < len(self._chunks):
            return self._chunks[index]
        with self._ready:
            while index >= len(self._chunks) and self._failure is None:
                self._ready.wait()
            if self._failure is not None:
                raise self._failure
            return self._chunks[index]

    def _settle(self) -> None:
        """Wait for chunks still being mapped."""
        if self._mapper is not None:
            self._mapper.join()
            self._mapper = None
        if self._failure is not None:
            raise self._failure

    def _pieces(self, start: int, stop: int) -> Iterator[tuple[Rows, int, int, int]]:
        """``(chunk, first row in it, last row + 1, offset from start)`` covering a range."""
        position = start
        while position < stop:
            index, row = divmod(position, self.chunk_rows)
            end = min(stop - position, self.chunk_rows - row)
            yield self._chunk(index), row, row + end, position - start
            position += end

    def pieces(self, count: int) -> Iterator[tuple[int, Rows]]:
        """``(first slot, rows)`` views covering slots ``0 .. count-1``, a chunk at a time."""
        for chunk, lo, hi, offset in self._pieces(0, count):
            yield offset, chunk[lo:hi]

    def read(self, start: int, stop: int) -> Rows:
        """A copy of rows ``start .. stop-1``."""
        out = np.empty((stop - start, self.dimension), dtype=np.float32)
        for chunk, lo, hi, offset in self._pieces(start, stop):
            out[offset : offset + hi - lo] = chunk[lo:hi]
        return out

    def write(self, start: int, rows: Rows) -> None:
        """Put ``rows`` at ``start, start+1, ...``."""
        for chunk, lo, hi, offset in self._pieces(start, start + rows.shape[0]):
            chunk[lo:hi] = rows[offset : offset + hi - lo]

    def set(self, slots: Slots, rows: Rows) -> None:
        """Put ``rows[i]`` at ``slots[i]``."""
        index, row = np.divmod(slots, self.chunk_rows)
        for c in np.unique(index).tolist():
            inside = index == c
            self._chunk(c)[row[inside]] = rows[inside]

    def get(self, slots: Slots) -> Rows:
        """A copy of the rows at ``slots``."""
        out = np.empty((slots.shape[0], self.dimension), dtype=np.float32)
        index, row = np.divmod(slots, self.chunk_rows)
        for c in np.unique(index).tolist():
            inside = index == c
            out[inside] = self._chunk(c)[row[inside]]
        return out

    def scores(self, query: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.float32]:
        """``rows[:count] @ query``: float32 ``(count,)``."""
        out = np.empty(count, dtype=np.float32)
        tasks = [
            (chunk[lo:hi], out[offset : offset + hi - lo])
            for chunk, lo, hi, offset in self._pieces(0, count)
        ]
        _run(tasks, query, count * self.dimension)
        return out

    def scores_of(self, slots: Slots, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``rows[slots] @ query`` for ascending ``slots``: float32 ``(len(slots),)``.

        Rows are gathered a slice at a time: one big gather would copy every
        selected vector into new memory (200 MB for 10% of a million 512-d
        vectors), while small slices stay in cache.
        """
        self._settle()
        out = np.empty(slots.shape[0], dtype=np.float32)
        tasks = []
        edges = np.searchsorted(slots, np.arange(len(self._chunks) + 1) * self.chunk_rows)
        for index, chunk in enumerate(self._chunks):
            for start in range(int(edges[index]), int(edges[index + 1]), _GATHER_ROWS):
                stop = min(start + _GATHER_ROWS, int(edges[index + 1]))
                rows = slots[start:stop] - index * self.chunk_rows
                tasks.append((_Gather(chunk, rows), out[start:stop]))
        _run(tasks, query, slots.shape[0] * self.dimension)
        return out


class _Gather:
    """Rows of a chunk picked by index, copied only when a worker reaches them."""

    def __init__(self, chunk: Rows, rows: Slots) -> None:
        self.chunk, self.rows = chunk, rows


def _run(
    tasks: Sequence[tuple[Rows | _Gather, npt.NDArray[np.float32]]],
    query: npt.NDArray[np.float32],
    values: int,
) -> None:
    """Compute every ``out = rows @ query`` task, on up to ``_WORKERS`` threads.

    numpy's row-wise dot product runs at memory speed on one core and releases
    the GIL, so tasks split over threads add up; BLAS's matrix-vector product
    was slower per core on the machines we measured.
    """
    workers = min(_WORKERS, len(tasks)) if values >= _PARALLEL_FROM else 1
    errors: list[BaseException] = []

    def work(share: Sequence[tuple[Rows | _Gather, npt.NDArray[np.float32]]]) -> None:
        try:
            for rows, out in share:
                if isinstance(rows, _Gather):
                    rows = rows.chunk[rows.rows]
                _dot(rows, query, out)
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    helpers = [
        threading.Thread(target=work, args=(tasks[i::workers],), daemon=True)
        for i in range(1, workers)
    ]
    for helper in helpers:
        helper.start()
    work(tasks[0::workers])
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
