"""A memory-mapped file of vectors by slot, one fixed-width row each, stamped with a ``seq``.

A cache of the SQLite file beside it, as the graph is: the header says which
store (``store_id``) and which state of it (``seq``, ``slots``) the rows
reflect. Rows are written in place (rewriting gigabytes for each write would
not do), so the order of writing is what keeps a crash harmless: rows first,
flushed, then the header. A file whose header still says ``seq`` S after a
crash may hold rows of later states, but only in slots that SQLite changed
after S, and catching up from S rewrites exactly those.

Layout: a 4 KiB header (one line of JSON with a CRC of itself, zero padded),
then ``width`` bytes per slot. Row kinds:

- ``f32``: the vector as given (float32 little-endian), ``4 * dimension`` bytes;
- ``f16``: float16, ``2 * dimension`` bytes;
- ``i8``: each value times ``127 / max |value|`` of its row, rounded, then that
  row's step (``max / 127``) as float32: ``dimension + 4`` bytes.
"""

from __future__ import annotations

import json
import mmap
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["HEADER_BYTES", "ROW_KINDS", "RowFile"]

HEADER_BYTES = 4096
ROW_KINDS = ("f32", "f16", "i8")
_FORMAT = 1
# Grow the file by at least this many rows at a time (the file is sparse until written).
_GROW_ROWS = 65_536

Rows = npt.NDArray[np.float32]
Raw = npt.NDArray[np.uint8]


def row_width(kind: str, dimension: int) -> int:
    return {"f32": 4 * dimension, "f16": 2 * dimension, "i8": dimension + 4}[kind]


def encode(kind: str, rows: Rows) -> Raw:
    """float32 ``(n, dimension)`` rows as ``(n, width)`` bytes of ``kind``."""
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if kind == "f32":
        return rows.astype("<f4", copy=False).view(np.uint8)
    if kind == "f16":
        return rows.astype("<f2").view(np.uint8)
    step = np.abs(rows).max(axis=1, keepdims=True) / 127
    step[step == 0] = 1
    values = np.clip(np.rint(rows / step), -127, 127).astype(np.int8)
    return np.concatenate([values.view(np.uint8), step.astype("<f4").view(np.uint8)], axis=1)


def decode(kind: str, raw: Raw, dimension: int) -> Rows:
    """``(n, width)`` bytes of ``kind`` as float32 ``(n, dimension)`` rows."""
    raw = np.ascontiguousarray(raw)
    if kind == "f32":
        return raw.view("<f4").astype(np.float32, copy=False)
    if kind == "f16":
        return raw.view("<f2").astype(np.float32)
    step = raw[:, dimension:].copy().view("<f4").astype(np.float32)
    return raw[:, :dimension].view(np.int8).astype(np.float32) * step


def _dot(rows: Rows, query: Rows) -> Rows:
    # Row by row, not BLAS's matrix-vector product: as fast on one core, and no
    # thread pool to wake (which cost ten times more on a loaded machine here).
    out: Rows = np.empty(rows.shape[0], dtype=np.float32)
    if hasattr(np, "vecdot"):  # numpy >= 2.0
        np.vecdot(rows, query, out=out)
    else:
        np.matmul(rows, query, out=out)
    return out


def scores(kind: str, raw: Raw, dimension: int, query: Rows) -> Rows:
    """``decode(raw) @ query`` without building the decoded rows of an ``i8`` file."""
    if kind != "i8":
        return _dot(decode(kind, raw, dimension), query)
    raw = np.ascontiguousarray(raw)
    step = raw[:, dimension:].copy().view("<f4").reshape(-1).astype(np.float32)
    return _dot(raw[:, :dimension].view(np.int8).astype(np.float32), query) * step


class RowFile:
    """The rows file at ``path`` for store ``store_id``: opened (made if missing), not yet trusted.

    :meth:`state` says what the header vouches for; the caller catches the
    rows up and calls :meth:`commit`, under its own lock.
    """

    def __init__(self, path: Path, kind: str, dimension: int, store_id: str) -> None:
        self.path, self.kind, self.dimension, self.store_id = path, kind, dimension, store_id
        self.width = row_width(kind, dimension)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._map: mmap.mmap | None = None
        self._dirty: tuple[int, int] | None = None  # slots written since the last commit
        self._seen: tuple[bytes, tuple[int, int] | None] = (b"", None)  # last header parsed
        self.rows: Raw = np.zeros((0, self.width), dtype=np.uint8)
        # A new (empty) file has no header: its state is None, and the caller
        # resets it under its exclusive lock, never here, where another process
        # may be writing it.
        try:
            self.remap()
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        # Views handed out keep their mapping alive; the mapping itself goes with them.
        self._map, self.rows = None, np.zeros((0, self.width), dtype=np.uint8)
        os.close(self.fd)

    def remap(self) -> None:
        """Map the whole file again if another process (or this one) changed its size."""
        size = os.fstat(self.fd).st_size
        if self._map is not None and len(self._map) == size:
            return
        if size < HEADER_BYTES:  # new, or cut inside its header: nothing to map
            self._map, self.rows = None, np.zeros((0, self.width), dtype=np.uint8)
            return
        self._map = mmap.mmap(self.fd, size)
        capacity = (size - HEADER_BYTES) // self.width
        self.rows = np.frombuffer(
            self._map, dtype=np.uint8, count=capacity * self.width, offset=HEADER_BYTES
        ).reshape(capacity, self.width)

    def state(self) -> tuple[int, int] | None:
        """``(seq, slots)`` the rows reflect; ``None`` if the file is not a good one of this store."""
        line = os.pread(self.fd, HEADER_BYTES, 0).split(b"\n", 1)[0]
        if line != self._seen[0]:  # parsed once per header written, not once per search
            self._seen = (line, self._parse(line))
        state = self._seen[1]
        if state is None or os.fstat(self.fd).st_size < HEADER_BYTES + state[1] * self.width:
            return None  # not this store's, or cut short
        return state

    def _parse(self, line: bytes) -> tuple[int, int] | None:
        try:
            header: Any = json.loads(line)
            check = header.pop("check")
        except (ValueError, AttributeError, KeyError):
            return None
        if check != zlib.crc32(json.dumps(header, sort_keys=True).encode()):
            return None  # torn or edited
        expected = {
            "format": _FORMAT,
            "store_id": self.store_id,
            "kind": self.kind,
            "dimension": self.dimension,
            "seq": header.get("seq"),
            "slots": header.get("slots"),
        }
        seq, slots = header.get("seq"), header.get("slots")
        if header != expected or not isinstance(seq, int) or not isinstance(slots, int):
            return None
        return seq, slots

    def _write_header(self, seq: int, slots: int) -> None:
        header: dict[str, Any] = {
            "format": _FORMAT,
            "store_id": self.store_id,
            "kind": self.kind,
            "dimension": self.dimension,
            "seq": seq,
            "slots": slots,
        }
        header["check"] = zlib.crc32(json.dumps(header, sort_keys=True).encode())
        line = json.dumps(header).encode() + b"\n"
        os.pwrite(self.fd, line.ljust(HEADER_BYTES, b"\0"), 0)
        os.fsync(self.fd)

    def reset(self) -> None:
        """Empty the file: no rows, a header that vouches for nothing yet (``seq`` -1)."""
        self._map, self.rows = None, np.zeros((0, self.width), dtype=np.uint8)
        self._dirty = None
        os.ftruncate(self.fd, HEADER_BYTES)
        self._write_header(-1, 0)

    def reserve(self, slots: int) -> None:
        """Make rows ``0 .. slots-1`` writable (new ones read as zeros)."""
        self.remap()
        if slots <= self.rows.shape[0]:
            return
        old = HEADER_BYTES + self.rows.shape[0] * self.width
        rows = max(slots, self.rows.shape[0] + _GROW_ROWS)
        # Allocated, not just extended: a write through the mapping into a hole on
        # a full disk would kill the process (SIGBUS) instead of raising here.
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(self.fd, old, HEADER_BYTES + rows * self.width - old)
        else:
            os.ftruncate(self.fd, HEADER_BYTES + rows * self.width)
        self.remap()

    def write(self, start: int, rows: Rows) -> None:
        """Put float32 ``rows`` at slots ``start, start+1, ...`` (reserved)."""
        stop = start + rows.shape[0]
        self.rows[start:stop] = encode(self.kind, rows)
        low, high = self._dirty or (start, stop)
        self._dirty = (min(low, start), max(high, stop))

    def commit(self, seq: int, slots: int) -> None:
        """Vouch for the rows as of ``seq``: rows reach the disk before the header says so."""
        if self._map is not None and self._dirty is not None:
            # Only the pages written: flushing a whole mapping of gigabytes costs a walk of it.
            first = (HEADER_BYTES + self._dirty[0] * self.width) // mmap.PAGESIZE * mmap.PAGESIZE
            end = min(len(self._map), HEADER_BYTES + self._dirty[1] * self.width)
            self._map.flush(first, end - first)
        self._dirty = None
        self._write_header(seq, slots)

    def read_rows(self, slots: npt.NDArray[np.intp]) -> Raw:
        """The rows at ``slots``, read from the file (not through the mapping)."""
        out = np.empty((slots.shape[0], self.width), dtype=np.uint8)
        for i, slot in enumerate(slots.tolist()):
            data = os.pread(self.fd, self.width, HEADER_BYTES + slot * self.width)
            out[i] = np.frombuffer(data.ljust(self.width, b"\0"), dtype=np.uint8)
        return out

    def decoded(self, raw: Raw) -> Rows:
        return decode(self.kind, raw, self.dimension)

    def scores(self, raw: Raw, query: Rows) -> Rows:
        return scores(self.kind, raw, self.dimension, query)
