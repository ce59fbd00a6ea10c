"""A LocalStore's vectors in SQLite: blocks of consecutive slots, read and rewritten whole.

The blocks are the truth every copy of the vectors (in memory, in the mapped
files) is caught up from: a copy that reflects ``seq`` S needs only the blocks
stamped after S.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.errors import StoreFormatError

__all__ = ["read_blocks", "write_blocks"]

Rows = npt.NDArray[np.float32]


def read_blocks(
    con: sqlite3.Connection, since: int, dimension: int, per_block: int
) -> Iterator[tuple[int, Rows]]:
    """``(first slot, rows)`` of every block written after ``since``, in ``con``'s transaction."""
    width = dimension * 4
    for block, blob in con.execute("SELECT block, vectors FROM blocks WHERE seq > ?", (since,)):
        if len(blob) % width:
            raise StoreFormatError(f"vector block {block} is damaged")
        yield block * per_block, np.frombuffer(blob, dtype="<f4").reshape(-1, dimension)


def write_blocks(
    con: sqlite3.Connection,
    seq: int,
    slots: npt.NDArray[np.intp],
    rows: Rows,
    *,
    per_block: int,
    total: int,
    current: Callable[[int, int], Rows],
) -> None:
    """Rewrite every block holding ``slots`` with ``rows`` put in.

    ``current(start, stop)`` gives the rows the blocks hold now (of ``total``
    slots); the caller's copy is left untouched.
    """
    blocks = slots // per_block
    for block in np.unique(blocks).tolist():
        start = block * per_block
        stop = min(start + per_block, total)
        data: Any = current(start, stop)
        inside = blocks == block
        data[slots[inside] - start] = rows[inside]
        con.execute(
            "INSERT OR REPLACE INTO blocks (block, seq, vectors) VALUES (?, ?, ?)",
            (block, seq, data.astype("<f4", copy=False).tobytes()),
        )
