"""A LocalStore's vectors in memory-mapped files beside it, instead of a float32 copy in memory.

Two files of :class:`~img2img.stores.local.rowfile.RowFile` rows, both caches
of the SQLite file (SQLite stays the truth):

- ``<store>.vectors``: float32, read only for a query's few candidates (the
  exact re-rank) and for fetches, so only their pages are ever read;
- ``<store>.vectors-i8`` or ``-f16`` (the store's ``quantization``): the
  quantised copy that exact scans of small filtered sets read, with an exact
  re-rank of their best candidates. With ``f32`` the first file serves both.

Opening maps the files: nothing is read until a search reads it. Before each
transaction's work the files are caught up from SQLite (blocks written since
the ``seq`` they reflect; rebuilt when missing, damaged, another store's, cut
short or ahead of the store) under an exclusive ``flock``; searches hold a
shared one, so another process never rewrites rows under a search.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from img2img.errors import StoreError
from img2img.stores.local.blocks import read_blocks
from img2img.stores.local.rowfile import RowFile

try:
    import fcntl
except ImportError:  # Windows: no flock; one process at a time per store there
    fcntl = None  # type: ignore[assignment]

__all__ = ["MAPPED_AVAILABLE", "FilesAhead", "MappedVectors", "vectors_path"]

#: Whether this system can share the files between processes safely (POSIX).
MAPPED_AVAILABLE = fcntl is not None and hasattr(os, "pread")

Rows = npt.NDArray[np.float32]
Slots = npt.NDArray[np.intp]

# Rows decoded at a time in a scan: 2,048 x 512 float32 = 4 MB, kept in cache.
_SCAN_ROWS = 2048
_PIECE_ROWS = 16_384
# A query's few candidates are read with one system call each rather than through
# the mapping: the first touch of each mapped page cost ~13 us of page-table work
# on this virtual machine, and mapped pages all count as the process's memory.
_READ_BELOW = 256


def vectors_path(store_path: Path, kind: str = "f32") -> Path:
    """Where the store at ``store_path`` keeps its ``kind`` rows."""
    suffix = ".vectors" if kind == "f32" else f".vectors-{kind}"
    return store_path.with_name(store_path.name + suffix)


class FilesAhead(Exception):
    """The files reflect a later state than this transaction sees: begin it again."""


class MappedVectors:
    """Slots' vectors read from mapped files; the same reads as ``SlotMatrix``."""

    def __init__(self, store_path: Path, dimension: int, quantization: str, store_id: str) -> None:
        self.dimension = dimension
        #: Whether scan scores are exact (else the best are re-ranked with float32 rows).
        self.exact_scores = quantization == "f32"
        self._full = RowFile(vectors_path(store_path), "f32", dimension, store_id)
        try:
            self._small = (
                self._full
                if self.exact_scores
                else RowFile(
                    vectors_path(store_path, quantization), quantization, dimension, store_id
                )
            )
        except BaseException:
            self._full.close()
            raise
        self._files = [self._full] if self._small is self._full else [self._full, self._small]
        self._slots = 0  # rows the files vouch for, once caught up

    def close(self) -> None:
        self.release()
        for file in self._files:
            file.close()

    # -- keeping the files caught up -------------------------------------------------

    def _lock(self, how: int) -> None:
        if fcntl is not None:
            fcntl.flock(self._full.fd, how)

    def release(self) -> None:
        """End the shared hold taken by :meth:`catch_up` (the transaction is over)."""
        if fcntl is not None:
            self._lock(fcntl.LOCK_UN)

    def catch_up(
        self, con: sqlite3.Connection, seq: int, slots: int, per_block: int, *, reset_ahead: bool
    ) -> None:
        """Bring the files to the store's ``seq`` (``slots`` slots), read in ``con``'s transaction.

        Returns holding a shared lock (until :meth:`release`). Raises
        :class:`FilesAhead` if the files reflect a later ``seq``, unless
        ``reset_ahead`` (the store's latest state is what ``con`` sees): they
        are then another history's and are rebuilt.
        """
        try:
            self._catch_up(con, seq, slots, per_block, reset_ahead=reset_ahead)
        except OSError as exc:  # the disk is full, say: the store's file is untouched
            self.release()
            raise StoreError(
                f"cannot bring the vector files beside the store up to date: {exc}"
            ) from exc

    def _catch_up(
        self, con: sqlite3.Connection, seq: int, slots: int, per_block: int, *, reset_ahead: bool
    ) -> None:
        shared = fcntl.LOCK_SH if fcntl is not None else 0
        for _ in range(3):
            self._lock(shared)
            if self._states() == [(seq, slots)] * len(self._files):
                break
            self.release()
            self._lock(fcntl.LOCK_EX if fcntl is not None else 0)
            self._repair(con, seq, slots, per_block, reset_ahead=reset_ahead)
            # Back to shared; another process may have moved the files on in between.
        else:
            self.release()
            raise FilesAhead("the vector files keep moving ahead of this transaction")
        for file in self._files:
            file.remap()
        self._slots = slots

    def _states(self) -> list[tuple[int, int] | None]:
        return [file.state() for file in self._files]

    def _repair(
        self, con: sqlite3.Connection, seq: int, slots: int, per_block: int, *, reset_ahead: bool
    ) -> None:
        """Under the exclusive lock: rewrite what changed since the files' ``seq``."""
        since = seq
        for file, state in zip(self._files, self._states(), strict=True):
            if state is not None and state[0] > seq and not reset_ahead:
                self.release()
                raise FilesAhead(f"{file.path} reflects seq {state[0]}, newer than {seq}")
            # Damaged, foreign, cut short, ahead (another history) or not the shape
            # its seq had: rebuild from every block.
            wrong_shape = state is not None and state[0] == seq and state[1] != slots
            if state is None or state[0] > seq or state[1] > slots or wrong_shape:
                file.reset()
                since = -1
            elif state[0] < seq:
                since = min(since, state[0])
        if since == seq:
            return
        for file in self._files:
            file.reserve(slots)
        for start, rows in read_blocks(con, since, self.dimension, per_block):
            rows = rows[: max(0, min(rows.shape[0], slots - start))]
            for file in self._files:
                file.write(start, rows)
        for file in self._files:
            file.commit(seq, slots)

    # -- reading, as SlotMatrix reads ------------------------------------------------

    def reserve(self, slots: int) -> None:
        """Nothing to do: the files grow when they catch up."""

    def set(self, slots: Slots, rows: Rows) -> None:
        """Nothing to do: rows written reach the files from SQLite at the next catch-up."""

    def get(self, slots: Slots) -> Rows:
        """float32 copies of the rows at ``slots`` (slots the files vouch for)."""
        slots = np.asarray(slots, dtype=np.intp)
        if slots.shape[0] <= _READ_BELOW:
            return self._full.decoded(self._full.read_rows(slots))
        return self._full.decoded(np.take(self._full.rows, slots, axis=0))

    def read(self, start: int, stop: int) -> Rows:
        """A copy of rows ``start .. stop-1``; rows past the files' slots are zeros."""
        out = np.zeros((stop - start, self.dimension), dtype=np.float32)
        known = max(start, min(stop, self._slots))
        out[: known - start] = self._full.decoded(self._full.rows[start:known])
        return out

    def pieces(self, count: int) -> Iterator[tuple[int, Rows]]:
        """``(first slot, rows)`` of slots ``0 .. count-1``, decoded from the quantised copy."""
        for start in range(0, count, _PIECE_ROWS):
            stop = min(count, start + _PIECE_ROWS)
            yield start, self._small.decoded(self._small.rows[start:stop])

    def scores(self, query: Rows, count: int) -> Rows:
        """``rows[:count] @ query`` from the quantised copy: float32 ``(count,)``."""
        out = np.empty(count, dtype=np.float32)
        for start in range(0, count, _SCAN_ROWS):
            stop = min(count, start + _SCAN_ROWS)
            out[start:stop] = self._small.scores(self._small.rows[start:stop], query)
        return out

    def scores_of(self, slots: Slots, query: Rows) -> Rows:
        """``rows[slots] @ query`` from the quantised copy: float32 ``(len(slots),)``."""
        out = np.empty(slots.shape[0], dtype=np.float32)
        for start in range(0, slots.shape[0], _SCAN_ROWS):
            part = slots[start : start + _SCAN_ROWS]
            rows = np.take(self._small.rows, part, axis=0)
            out[start : start + part.shape[0]] = self._small.scores(rows, query)
        return out
