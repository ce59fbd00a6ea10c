"""Crash safety: SIGKILL a writer mid-series; every acknowledged upsert survives, whole.

The child upserts batches in a loop and prints a batch's number only after
``upsert`` returned. The parent kills it at a moment chosen by the clock, so
the kill lands anywhere: inside SQLite's commit, between batches, or while a
batch is being prepared. On reopening, every acknowledged batch must be
there, complete and with the right vectors; at most one more batch (the one
committed but not yet acknowledged) may be there, and then complete too; no
batch is ever partial; and SQLite's own integrity check passes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from img2img.stores.local.store import LocalStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

BATCH = 150
DIM = 96  # 96-d: a block holds 682 vectors, so batches straddle block boundaries

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from img2img.models import VectorRecord
    from img2img.stores.local.store import LocalStore

    BATCH, DIM = {batch}, {dim}

    def vector(batch, i):
        v = np.random.default_rng(batch * 100003 + i).standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    store = LocalStore(sys.argv[1])
    batch = 0
    while True:
        store.upsert([
            VectorRecord(f"b{{batch}}-{{i}}", vector(batch, i), {{"batch": batch, "i": i}})
            for i in range(BATCH)
        ])
        if batch % 7 == 3:  # rewrite earlier rows too, so blocks already on disk change
            store.upsert([
                VectorRecord(f"b{{batch - 1}}-{{i}}", vector(batch - 1, i), {{"batch": batch - 1, "i": i}})
                for i in range(0, BATCH, 3)
            ])
        print(batch, flush=True)
        batch += 1
    """
).format(batch=BATCH, dim=DIM)


def expected_vector(batch: int, i: int) -> np.ndarray:
    v = np.random.default_rng(batch * 100003 + i).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def run_and_kill(path: Path, after_acks: int, extra_delay: float) -> int:
    """Start the writer, SIGKILL it once it has acknowledged ``after_acks`` batches
    and ``extra_delay`` seconds more have passed; return the last acknowledged batch."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acked = -1
    try:
        while acked + 1 < after_acks:
            line = child.stdout.readline()
            assert line, f"writer died early with code {child.wait()}"
            acked = int(line)
        time.sleep(extra_delay)
        child.send_signal(signal.SIGKILL)
        for line in child.stdout:  # acks printed before the kill landed
            acked = int(line)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return acked


def check_store(path: Path, acked: int) -> None:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
    with LocalStore(path) as store:
        total = store.count()
        complete = total // BATCH
        assert total == complete * BATCH, f"a partial batch is in the store: {total} vectors"
        assert complete in (acked + 1, acked + 2), f"{complete} batches, {acked + 1} acknowledged"
        for batch in range(complete):
            ids = [f"b{batch}-{i}" for i in range(BATCH)]
            found = store.fetch(ids)
            assert len(found) == BATCH, f"batch {batch} is incomplete"
            for i in (0, BATCH // 2, BATCH - 1):
                np.testing.assert_array_equal(
                    found[f"b{batch}-{i}"].vector, expected_vector(batch, i)
                )
                assert found[f"b{batch}-{i}"].metadata == {"batch": batch, "i": i}
        assert store.fetch([f"b{complete}-0"]) == {}
        # The in-memory search agrees with the file after the reopen.
        probe = expected_vector(complete - 1, 7)
        assert store.query(probe, k=1)[0].id == f"b{complete - 1}-7"


@pytest.mark.parametrize(("after_acks", "extra_delay"), [(3, 0.0), (8, 0.013), (15, 0.031)])
def test_sigkill_mid_upserts_loses_no_acknowledged_write(
    tmp_path: Path, after_acks: int, extra_delay: float
) -> None:
    path = tmp_path / "crash.sqlite3"
    acked = run_and_kill(path, after_acks, extra_delay)
    assert acked >= after_acks - 1
    check_store(path, acked)


def test_a_store_keeps_working_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    acked = run_and_kill(path, 5, 0.005)
    acked_again = run_and_kill(path, 3, 0.002)  # the writer resumes numbering at 0: overwrites
    check_store(path, max(acked, acked_again))
