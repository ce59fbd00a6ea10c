"""With ``index="hnsw"`` the vectors live in mapped files beside the store, caches SQLite repairs.

- answers match the exact store's (same records, scores exact float32), unfiltered
  and filtered, in every quantisation; the exact default store makes no such file;
- opening with files up to date reads no vector block from SQLite; files behind it
  read only the blocks written since;
- missing, cut short, emptied, garbage, foreign or ahead-of-the-store files are rebuilt;
- a process SIGKILLed at any point (rows half written, one file's header written and
  not the other's, or at moments set by the clock) loses nothing, and the next open
  repairs the files;
- a read-only store, and ``vectors="memory"``, hold the vectors in memory as before.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from img2img.errors import ConfigurationError
from img2img.models import VectorRecord
from img2img.stores.local import mapped as mapped_module
from img2img.stores.local import mirror as mirror_module
from img2img.stores.local.mapped import vectors_path
from img2img.stores.local.rowfile import RowFile
from img2img.stores.local.store import LocalStore
from killing import run_and_kill

pytest.importorskip("usearch")

DIM = 48
DOMAINS = [f"site{i}.example" for i in range(10)]


def vector(i: int) -> np.ndarray:
    """Record ``i``'s vector: unit, around one of 30 centres, the same in every process."""
    centre = np.random.default_rng(i % 30).standard_normal(DIM).astype(np.float32)
    v = centre + 0.7 * np.random.default_rng(10_000 + i).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def record(i: int) -> VectorRecord:
    return VectorRecord(f"r{i}", vector(i), {"domain": DOMAINS[i % 10], "n": i})


def fill(store: LocalStore, ids: range) -> None:
    for start in range(ids.start, ids.stop, 500):
        store.upsert([record(i) for i in range(start, min(start + 500, ids.stop))])


def files(path: Path, quantization: str = "i8") -> list[Path]:
    kinds = ["f32"] if quantization == "f32" else ["f32", quantization]
    return [vectors_path(path, kind) for kind in kinds]


def file_states(path: Path, quantization: str = "i8") -> list[tuple[int, int] | None]:
    with LocalStore(path) as exact:
        store_id = exact._store_id
    assert store_id is not None
    out = []
    for file, kind in zip(files(path, quantization), ["f32", quantization], strict=False):
        rows = RowFile(file, kind, DIM, store_id)
        out.append(rows.state())
        rows.close()
    return out


def store_seq(path: Path) -> tuple[int, int]:
    with LocalStore(path) as exact:
        exact.count()
        return exact._seq, exact._slots


def check_holds(path: Path, alive: dict[int, np.ndarray], quantization: str = "i8") -> None:
    """The hnsw handle's fetches, searches and filtered scans agree with ``alive`` (id -> vector)."""
    with LocalStore(path, index="hnsw", quantization=quantization) as store:
        assert store.count() == len(alive)
        got = store.fetch([f"r{i}" for i in alive])
        assert set(got) == {f"r{i}" for i in alive}
        for i, v in alive.items():
            assert np.array_equal(got[f"r{i}"].vector, v)  # the float32 rows, exactly
        probes = list(alive)[::37]
        found = 0
        for i in probes:
            # The graph is approximate (its threaded build differs run to run and may
            # miss a record or two of 1,500), but every score it returns is re-ranked
            # from the float32 rows: stale or foreign rows would show here.
            for match in store.query(alive[i], k=10):
                row = alive[int(match.id[1:])]
                assert match.score == pytest.approx(float(alive[i] @ row), abs=1e-5)
            found += store.query(alive[i], k=10)[0].id == f"r{i}"
            # A filter selecting a few: scanned from the quantised copy, re-ranked.
            scanned = store.query(alive[i], k=1, filter={"n": i})
            assert [m.id for m in scanned] == [f"r{i}"]
        assert found >= len(probes) - 1
    assert file_states(path, quantization) == [store_seq(path)] * len(files(path, quantization))


@pytest.mark.parametrize("quantization", ["f32", "f16", "i8"])
def test_mapped_vectors_answer_as_the_exact_store(tmp_path: Path, quantization: str) -> None:
    path = tmp_path / "store.sqlite3"
    probes = np.stack([vector(i) for i in range(0, 2000, 41)]) + 0.05
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    filters: list[Any] = [
        None,
        {"domain": "site3.example"},
        {"$and": [{"n": {"$gte": 500}}, {"domain": {"$ne": "site0.example"}}]},
    ]
    with LocalStore(path, index="hnsw", quantization=quantization) as store:
        fill(store, range(2000))
        store.delete(["r5", "r6"])
        assert store.vectors == "mapped"
        assert all(f.exists() for f in files(path, quantization))
        found = {str(f): [store.query(p, k=10, filter=f) for p in probes] for f in filters}
        batched = {str(f): store.query_many(probes, k=10, filter=f) for f in filters}
    with LocalStore(path) as exact:
        assert exact.vectors == "memory"
        for f in filters:
            truth = [[m.id for m in exact.query(p, k=10, filter=f)] for p in probes]
            for answers in (found[str(f)], batched[str(f)]):
                hits = sum(
                    len({m.id for m in a} & set(t)) for a, t in zip(answers, truth, strict=True)
                )
                assert hits >= 0.95 * sum(len(t) for t in truth), f
                for answer, probe in zip(answers, probes, strict=True):
                    for m in answer:  # exact float32 scores, whatever the copy scanned
                        want = float(vector(int(m.id[1:])) @ probe)
                        assert m.score == pytest.approx(want, abs=1e-5)


def test_the_exact_store_is_unchanged_and_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path) as exact:
        fill(exact, range(300))
        answer = exact.query(vector(7), k=5)
    assert not any(f.exists() for f in files(path))
    with LocalStore(path, vectors="mapped", quantization="f32") as mapped:
        again = mapped.query(vector(7), k=5)
        assert [m.id for m in again] == [m.id for m in answer]
        assert [m.score for m in again] == pytest.approx([m.score for m in answer], abs=1e-6)
    assert vectors_path(path).exists()
    with LocalStore(path, index="hnsw", vectors="memory") as memory:
        # Exact: the graph may leave a record of a tight cluster unreached.
        assert memory.query_many(vector(7)[None, :], k=1, exact=True)[0][0].id == "r7"
        assert len(memory.query(vector(7), k=5)) == 5
    with pytest.raises(ConfigurationError, match="vectors must be one of"):
        LocalStore(path, vectors="disk")


def test_a_read_only_store_holds_its_vectors_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path) as exact:
        fill(exact, range(300))
    with LocalStore(path, index="hnsw", read_only=True) as store:
        assert store.vectors == "memory"
        # The graph may leave a record of a tight cluster unreached (its build order
        # varies from run to run); the scan of the vectors held in memory does not.
        assert store.query_many(vector(9)[None, :], k=1, exact=True)[0][0].id == "r9"
        found = store.query(vector(9), k=5)
        assert len(found) == 5
        for match in found:  # scored with the vectors held in memory
            want = float(vector(int(match.id[1:])) @ vector(9))
            assert match.score == pytest.approx(want, abs=1e-5)
    assert not vectors_path(path).exists()


def test_a_store_that_cannot_keep_its_vector_files_holds_them_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path) as exact:
        fill(exact, range(300))
    vectors_path(path).mkdir()  # in the way, as a folder the user may not write would be
    with pytest.warns(UserWarning, match="holding the vectors in memory"):
        store = LocalStore(path, index="hnsw")
    with store:
        # Exact: the graph may leave a record of a tight cluster unreached.
        assert store.query_many(vector(9)[None, :], k=1, exact=True)[0][0].id == "r9"
        assert store.fetch(["r9"])["r9"].vector.tolist() == vector(9).tolist()


def count_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of rows every read of SQLite's vector blocks returns."""
    seen: list[int] = []

    def counting(original: Any) -> Any:
        def read(*args: Any, **kwargs: Any) -> Any:
            for start, rows in original(*args, **kwargs):
                seen.append(rows.shape[0])
                yield start, rows

        return read

    monkeypatch.setattr(mapped_module, "read_blocks", counting(mapped_module.read_blocks))
    monkeypatch.setattr(mirror_module, "read_blocks", counting(mirror_module.read_blocks))
    return seen


def test_opening_reads_no_vector_when_the_files_are_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        fill(store, range(3000))
        store.query(vector(0), k=1)
    seen = count_blocks(monkeypatch)
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        assert store.query(vector(1234), k=1)[0].id == "r1234"
        assert store.query(vector(17), k=1, filter={"domain": "site7.example"})[0].id == "r17"
    assert seen == []
    with LocalStore(path) as exact:  # another program writes on, without the files
        exact.upsert([record(5000)])
    seen.clear()
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        assert store.query(vector(5000), k=1)[0].id == "r5000"
    assert 0 < sum(seen) < 3000  # the block written since, not the store


def damage_files(path: Path, tmp_path: Path, how: str) -> None:
    f32, i8 = files(path)
    if how == "missing":
        f32.unlink()
        i8.unlink()
    elif how == "cut short":
        with f32.open("r+b") as file:
            file.truncate(f32.stat().st_size // 2)
    elif how == "emptied":  # cut inside its header
        with i8.open("r+b") as file:
            file.truncate(10)
    elif how == "garbage":
        with i8.open("r+b") as file:
            file.write(b'{"format": 1, "seq": 99999}\n')
    elif how == "foreign":
        other = tmp_path / "other.sqlite3"
        with LocalStore(other, index="hnsw", quantization="i8") as store:
            fill(store, range(1500))
        shutil.copy(vectors_path(other), f32)
        shutil.copy(vectors_path(other, "i8"), i8)


@pytest.mark.parametrize("how", ["missing", "cut short", "emptied", "garbage", "foreign", "ahead"])
def test_bad_vector_files_are_rebuilt(tmp_path: Path, how: str) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        fill(store, range(1500))
    if how == "ahead":  # the store restored from a copy older than its files
        shutil.copy(path, tmp_path / "older.sqlite3")
        with LocalStore(path, index="hnsw", quantization="i8") as store:
            store.upsert([VectorRecord("r3", vector(4444), {"n": 3})])
            store.delete(["r4"])
            store.count()  # the files reach the newer state
        shutil.copy(tmp_path / "older.sqlite3", path)
    else:
        damage_files(path, tmp_path, how)
    check_holds(path, {i: vector(i) for i in range(1500)})


# -- SIGKILL ------------------------------------------------------------------------

PRELUDE = textwrap.dedent(
    f"""
    import os, signal, sys
    import numpy as np
    from img2img.models import VectorRecord
    from img2img.stores.local.store import LocalStore

    DIM = {DIM}

    def vector(i):
        centre = np.random.default_rng(i % 30).standard_normal(DIM).astype(np.float32)
        v = centre + 0.7 * np.random.default_rng(10_000 + i).standard_normal(DIM).astype(
            np.float32
        )
        return v / np.linalg.norm(v)
    """
)

# Writes, then is killed by its own hand at the ``call``-th call of ``method`` of the
# files (RowFile.write: rows half written; RowFile.commit: before a header is written,
# so with two files one header may be new and the other old).
AT_A_POINT = PRELUDE + textwrap.dedent(
    """
    from img2img.stores.local import rowfile

    method, call = sys.argv[2], int(sys.argv[3])
    original = getattr(rowfile.RowFile, method)
    calls = [0]

    def dying(self, *args):
        calls[0] += 1
        if calls[0] == call:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args)

    with LocalStore(sys.argv[1], index="hnsw", quantization="i8") as store:
        store.count()  # files caught up before the patch: what follows is the write's
        setattr(rowfile.RowFile, method, dying)
        store.upsert([VectorRecord(f"r{i}", -vector(i), {"n": i}) for i in range(0, 900, 3)])
        print("written", flush=True)
        store.delete([f"r{i}" for i in range(1, 900, 10)])
        print("deleted", flush=True)
        store.query(vector(1), k=1)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize(
    ("method", "call"), [("write", 1), ("write", 2), ("commit", 1), ("commit", 2)]
)
def test_a_kill_at_any_point_of_a_files_catch_up_loses_nothing(
    tmp_path: Path, method: str, call: int
) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        fill(store, range(900))
    done = subprocess.run(
        [sys.executable, "-c", AT_A_POINT, str(path), method, str(call)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    alive = {i: vector(i) for i in range(900)}
    if "written" in done.stdout:
        alive.update({i: -vector(i) for i in range(0, 900, 3)})
    if "deleted" in done.stdout:
        for i in range(1, 900, 10):
            del alive[i]
    check_holds(path, alive)


WRITER = PRELUDE + textwrap.dedent(
    """
    batch = int(sys.argv[2])
    while True:
        with LocalStore(sys.argv[1], index="hnsw", quantization="i8") as store:
            ids = range(batch * 100, batch * 100 + 100)
            store.upsert([VectorRecord(f"r{i}", vector(i), {"n": i}) for i in ids])
            store.query(vector(batch * 100), k=3)
            if batch % 3 == 2:
                store.delete([f"r{i}" for i in range(batch * 100, batch * 100 + 100, 10)])
        print(batch, flush=True)
        batch += 1
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_at_moments_set_by_the_clock_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    batch, batches = 0, []
    for delay in (0.0, 0.21, 0.53):
        acked = run_and_kill(WRITER, [str(path), str(batch)], batch, delay)
        with LocalStore(path) as exact:  # SQLite's truth, whatever the files hold
            truth = {int(r.id[1:]): r.vector for page in exact.scan() for r in page}
        batches += range(batch, acked + 1)
        acknowledged = {
            i for b in batches for i in range(b * 100, b * 100 + 100) if b % 3 != 2 or i % 10
        }
        assert acknowledged <= set(truth)
        check_holds(path, truth)
        batch = acked + 2  # a batch committed but not acknowledged may be there too


# -- processes at once ---------------------------------------------------------------

VERSIONED = PRELUDE + textwrap.dedent(
    """
    def versioned(i, v):
        w = np.random.default_rng(i * 1000 + v).standard_normal(DIM).astype(np.float32)
        return w / np.linalg.norm(w)

    with LocalStore(sys.argv[1], index="hnsw", quantization="i8") as store:
        v = 1
        while True:
            v += 1
            first = (v * 37) % 400
            ids = range(first, first + 50)
            store.upsert([VectorRecord(f"r{i}", versioned(i, v), {"n": i, "v": v}) for i in ids])
            store.delete([f"r{i}" for i in range(first + 1, first + 50, 7)])  # slots reused
            print(v, flush=True)
    """
)


def versioned(i: int, v: int) -> np.ndarray:
    w = np.random.default_rng(i * 1000 + v).standard_normal(DIM).astype(np.float32)
    return w / np.linalg.norm(w)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs signals")
def test_a_reader_sees_rows_that_match_its_snapshot_while_another_process_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path, index="hnsw", quantization="i8") as store:
        store.upsert([VectorRecord(f"r{i}", versioned(i, 1), {"n": i, "v": 1}) for i in range(450)])
    child = subprocess.Popen(
        [sys.executable, "-c", VERSIONED, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    checked = 0
    try:
        child.stdout.readline()  # writing has begun
        deadline = time.monotonic() + 4
        with LocalStore(path, index="hnsw", quantization="i8") as store:
            while time.monotonic() < deadline:
                # Every vector read agrees with the metadata of the same snapshot.
                for record_id, got in store.fetch([f"r{i}" for i in range(450)]).items():
                    want = versioned(int(record_id[1:]), int(got.metadata["v"]))
                    assert np.array_equal(got.vector, want)
                    checked += 1
                probe = versioned(checked % 450, 1)
                for f in (None, {"n": {"$lt": 40}}):
                    for m in store.query(probe, k=10, filter=f):
                        want = versioned(int(m.id[1:]), int(m.metadata["v"]))
                        assert m.score == pytest.approx(float(want @ probe), abs=1e-5)
    finally:
        child.terminate()
        child.wait()
    assert checked > 450
