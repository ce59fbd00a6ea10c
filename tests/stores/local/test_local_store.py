"""LocalStore: the shared contract, durability, refusals, and seeing other writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import img2img.stores.local.matrix as matrix_module
import img2img.stores.local.store as local_module
from img2img.errors import (
    EmbeddingSpaceMismatchError,
    InvalidFilterError,
    InvalidMetadataError,
    InvalidVectorError,
    StoreError,
    StoreFormatError,
)
from img2img.models import EmbeddingSpace, VectorRecord
from img2img.stores.local import schema as local_schema
from img2img.stores.local.schema import FORMAT_VERSION
from img2img.stores.local.store import LocalStore, default_store_path
from img2img.testing.contracts import VectorStoreContract

DIM = 8


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def record(record_id: str, seed: int, **metadata: object) -> VectorRecord:
    return VectorRecord(record_id, unit(seed), metadata)  # type: ignore[arg-type]


def tamper(path: Path, *statements: str) -> None:
    """Change the SQLite file at ``path`` behind the store's back, as another program might."""
    con = sqlite3.connect(path)
    for statement in statements:
        con.execute(statement)
    con.commit()
    con.close()


def snapshot(path: Path) -> dict[str, bytes]:
    """The bytes of the store file and its WAL companions, to prove nothing was written."""
    return {
        p.name: p.read_bytes()
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        if p.exists() and not p.name.endswith("-shm")
    }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "index.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[LocalStore]:
    with LocalStore(path) as opened:
        yield opened


class TestLocalStoreContract(VectorStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[LocalStore]:
        store = LocalStore(tmp_path / "contract.sqlite3")
        yield store
        store.close()


class TestLocalStoreApproximateContract(VectorStoreContract):
    """The same contract with every search, filtered or not, going through the HNSW graph."""

    @pytest.fixture(params=["f32", "i8"])
    def store(self, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalStore]:
        pytest.importorskip("usearch")
        store = LocalStore(
            tmp_path / "contract.sqlite3", index="hnsw", quantization=request.param, scan_below=0
        )
        yield store
        store.close()


# -- durability --------------------------------------------------------------------


def test_everything_survives_reopening(path: Path) -> None:
    space = EmbeddingSpace("model-a", DIM)
    with LocalStore(path) as store:
        store.set_embedding_space(space)
        store.upsert(
            [record(f"r{i}", i, n=i, tags=["x", f"t{i}"], title="café ☕") for i in range(50)]
        )
        store.delete(["r3", "r4"])
        store.upsert([record("r5", 99, n=-1)])
    with LocalStore(path) as store:
        assert store.count() == 48
        assert store.embedding_space() == space
        fetched = store.fetch(["r5", "r6", "r3"])
        assert set(fetched) == {"r5", "r6"}
        np.testing.assert_array_equal(fetched["r5"].vector, unit(99))
        assert fetched["r5"].metadata == {"n": -1}
        assert fetched["r6"].metadata == {"n": 6, "tags": ["x", "t6"], "title": "café ☕"}
        assert store.query(unit(7), k=1)[0].id == "r7"
        assert {m.id for m in store.query(unit(0), k=50, filter={"n": {"$lt": 2}})} == {
            "r0",
            "r1",
            "r5",
        }


def test_vectors_spanning_many_blocks_load_back(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "BLOCK_BYTES", 3 * 4 * DIM)  # three vectors a block
    monkeypatch.setattr(matrix_module, "CHUNK_BYTES", 5 * 4 * DIM)  # five a chunk in memory
    records = [record(f"r{i}", i) for i in range(40)]
    with LocalStore(path) as store:
        store.upsert(records[:17])
        store.upsert(records[17:])
        store.delete([f"r{i}" for i in range(0, 40, 4)])
        store.upsert([record("again", 1000)])  # takes a freed slot
    with LocalStore(path) as store:
        assert store.count() == 31
        kept = [r for i, r in enumerate(records) if i % 4]
        fetched = store.fetch([r.id for r in kept] + ["again"])
        for r in kept:
            np.testing.assert_array_equal(fetched[r.id].vector, r.vector)
        np.testing.assert_array_equal(fetched["again"].vector, unit(1000))
        for r in kept[::5]:
            assert store.query(r.vector, k=1)[0].id == r.id


def test_deleted_slots_are_reused_and_never_returned(store: LocalStore) -> None:
    store.upsert([record(f"r{i}", i, keep=i % 2 == 0) for i in range(10)])
    store.delete(filter={"keep": False})
    assert store.count() == 5
    # A query as close as can be to a deleted vector never returns it.
    assert all(int(m.id[1:]) % 2 == 0 for m in store.query(unit(1), k=10))
    store.upsert([record(f"n{i}", 100 + i, keep=True) for i in range(7)])
    assert store.count() == 12
    assert len(store.query(unit(0), k=100)) == 12
    assert len(store.query(unit(0), k=100, filter={"keep": True})) == 12


def test_duplicate_ids_in_one_batch_keep_the_last(store: LocalStore) -> None:
    store.upsert([record("a", 1, v=1), record("a", 2, v=2)])
    assert store.count() == 1
    got = store.fetch(["a"])["a"]
    assert got.metadata == {"v": 2}
    np.testing.assert_array_equal(got.vector, unit(2))


def test_query_edge_cases(store: LocalStore) -> None:
    store.upsert([record(f"r{i}", i) for i in range(3)])
    assert store.query(unit(0), k=0) == []
    assert len(store.query(unit(0), k=99)) == 3
    assert store.query(unit(0), k=3, filter={"nothing": "here"}) == []


def test_equal_scores_come_back_in_insertion_order(store: LocalStore) -> None:
    same = unit(5)
    store.upsert([VectorRecord(f"r{i}", same) for i in range(6)])
    assert [m.id for m in store.query(same, k=4)] == ["r0", "r1", "r2", "r3"]


def test_filter_columns_follow_writes(store: LocalStore) -> None:
    store.upsert([record(f"r{i}", i, colour="red") for i in range(4)])
    assert len(store.query(unit(0), k=10, filter={"colour": "red"})) == 4  # loads the column
    store.upsert([record("r1", 1, colour="blue"), record("r9", 9, colour="blue")])
    store.delete(["r2"])
    assert {m.id for m in store.query(unit(0), k=10, filter={"colour": "red"})} == {"r0", "r3"}
    assert {m.id for m in store.query(unit(0), k=10, filter={"colour": "blue"})} == {"r1", "r9"}
    store.delete(filter={"colour": "blue"})
    assert store.count() == 2


@pytest.mark.parametrize("field", ['say "hi"', "a.b", "back\\slash", "日本"])
def test_any_field_name_can_be_filtered(store: LocalStore, field: str) -> None:
    store.upsert(
        [record("yes", 1, **{field: "v"}), record("no", 2, **{field: "w"}), record("none", 3)]
    )
    assert {m.id for m in store.query(unit(0), k=5, filter={field: "v"})} == {"yes"}
    assert {m.id for m in store.query(unit(0), k=5, filter={field: {"$ne": "v"}})} == {"no", "none"}


def test_malformed_filter_in_delete_is_refused_and_deletes_nothing(store: LocalStore) -> None:
    store.upsert([record("a", 1, n=1)])
    with pytest.raises(InvalidFilterError):
        store.delete(filter={"n": {"$gt": "one"}})
    assert store.count() == 1


def test_closed_store_refuses_use(path: Path) -> None:
    store = LocalStore(path)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.count()


# -- refusals that touch nothing on disk ---------------------------------------------


def test_wrong_dimension_and_non_finite_values_touch_nothing(store: LocalStore, path: Path) -> None:
    store.upsert([record("a", 1)])
    before = snapshot(path)
    with pytest.raises(InvalidVectorError, match="dimension"):
        store.upsert([VectorRecord("b", np.ones(DIM + 1, dtype=np.float32))])
    poisoned = unit(2)
    poisoned[3] = np.nan
    with pytest.raises(InvalidVectorError, match="NaN"):
        store.upsert([record("c", 3), VectorRecord("d", poisoned)])
    assert snapshot(path) == before
    assert store.count() == 1


def test_dimension_fixed_by_the_embedding_space(store: LocalStore) -> None:
    store.set_embedding_space(EmbeddingSpace("m", 4))
    with pytest.raises(InvalidVectorError):
        store.upsert([record("a", 1)])
    store.upsert([VectorRecord("a", unit(1, 4))])
    assert store.count() == 1


def test_a_different_model_is_refused_and_nothing_changes(store: LocalStore, path: Path) -> None:
    store.set_embedding_space(EmbeddingSpace("model-a", DIM))
    store.upsert([record("a", 1)])
    before = snapshot(path)
    with pytest.raises(EmbeddingSpaceMismatchError, match="model-a"):
        store.set_embedding_space(EmbeddingSpace("model-b", DIM))
    with pytest.raises(EmbeddingSpaceMismatchError):
        store.set_embedding_space(EmbeddingSpace("model-a", DIM * 2))
    assert snapshot(path) == before
    store.close()
    with LocalStore(path) as reopened:
        assert reopened.embedding_space() == EmbeddingSpace("model-a", DIM)


def test_vectors_without_a_model_still_fix_the_dimension(store: LocalStore) -> None:
    store.upsert([record("a", 1)])
    with pytest.raises(EmbeddingSpaceMismatchError, match=f"{DIM}-d"):
        store.set_embedding_space(EmbeddingSpace("m", DIM + 1))
    store.set_embedding_space(EmbeddingSpace("m", DIM))
    assert store.embedding_space() == EmbeddingSpace("m", DIM)


def test_a_file_that_is_not_a_store_is_refused_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 20)
    with pytest.raises(StoreFormatError, match="not an img2img store"):
        LocalStore(text)
    assert text.read_text() == "not a database\n" * 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    tamper(other, "CREATE TABLE people (name TEXT)", "INSERT INTO people VALUES ('ada')")
    before = other.read_bytes()
    with pytest.raises(StoreFormatError, match="another application"):
        LocalStore(other)
    assert other.read_bytes() == before


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="not a file"):
        LocalStore(tmp_path)


def test_a_newer_format_is_refused_untouched(path: Path) -> None:
    with LocalStore(path) as store:
        store.upsert([record("a", 1)])
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {FORMAT_VERSION + 1}")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = snapshot(path)
    with pytest.raises(StoreFormatError, match="newer"):
        LocalStore(path)
    assert snapshot(path) == before


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with LocalStore(empty) as store:
        store.upsert([record("a", 1)])
    with LocalStore(empty) as store:
        assert store.count() == 1


# -- default location ----------------------------------------------------------------


def test_default_path_follows_img2img_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home" / "index.sqlite3"
    with LocalStore() as store:
        store.upsert([record("a", 1)])
        assert store.path == tmp_path / "home" / "index.sqlite3"
    assert (tmp_path / "home" / "index.sqlite3").is_file()


def test_default_path_falls_back_to_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMG2IMG_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "img2img" / "index.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    expected = tmp_path / "user" / ".local" / "share" / "img2img" / "index.sqlite3"
    assert default_store_path() == expected


# -- other writers -----------------------------------------------------------------


def test_another_connections_writes_are_seen(path: Path) -> None:
    with LocalStore(path) as reader, LocalStore(path) as writer:
        reader.upsert([record(f"r{i}", i, colour="red") for i in range(5)])
        assert reader.query(unit(0), k=9, filter={"colour": "red"})  # columns now loaded
        writer.upsert([record("w", 50, colour="red"), record("r1", 1, colour="green")])
        writer.delete(["r2"])
        writer.set_embedding_space(EmbeddingSpace("m", DIM))
        assert reader.count() == 5
        assert {m.id for m in reader.query(unit(0), k=9, filter={"colour": "red"})} == {
            "r0",
            "r3",
            "r4",
            "w",
        }
        assert reader.query(unit(50), k=1)[0].id == "w"
        assert reader.embedding_space() == EmbeddingSpace("m", DIM)
        # The reader writes next: it must not reuse the slot the writer filled.
        reader.upsert([record("x", 60)])
        assert writer.count() == 6
        assert writer.fetch(["w", "x"]).keys() == {"w", "x"}


def test_another_processs_commits_are_seen_by_the_next_query(path: Path) -> None:
    child = textwrap.dedent(
        f"""
        import numpy as np
        from img2img.models import VectorRecord
        from img2img.stores.local.store import LocalStore
        with LocalStore({str(path)!r}) as store:
            v = np.zeros({DIM}, dtype=np.float32)
            v[0] = 1.0
            store.upsert([VectorRecord("from-child", v, {{"who": "child"}})])
            store.delete(["mine-1"])
        """
    )
    with LocalStore(path) as store:
        store.upsert([record("mine-0", 1), record("mine-1", 2)])
        assert store.count() == 2
        subprocess.run([sys.executable, "-c", child], check=True, timeout=60)
        axis = np.zeros(DIM, dtype=np.float32)
        axis[0] = 1.0
        best = store.query(axis, k=1, filter={"who": "child"})
        assert [(m.id, round(m.score, 6)) for m in best] == [("from-child", 1.0)]
        assert store.count() == 2
        assert store.fetch(["mine-1"]) == {}


def test_a_newer_format_still_in_the_write_ahead_log_is_refused(path: Path) -> None:
    with LocalStore(path) as store:
        store.upsert([record("a", 1)])
    other = sqlite3.connect(path)  # stays open, so its change stays in the -wal file
    try:
        other.execute(f"PRAGMA user_version = {FORMAT_VERSION + 7}")
        other.commit()
        assert Path(f"{path}-wal").stat().st_size > 0
        main_file = path.read_bytes()
        with pytest.raises(StoreFormatError, match=f"format {FORMAT_VERSION + 7}"):
            LocalStore(path)
        assert path.read_bytes() == main_file
    finally:
        other.close()


# -- failures and damage ---------------------------------------------------------------


def test_a_write_that_fails_inside_sqlite_writes_nothing(store: LocalStore, path: Path) -> None:
    store.upsert([record("a", 1, colour="red"), record("b", 2, colour="red")])
    assert len(store.query(unit(0), k=5, filter={"colour": "red"})) == 2
    saboteur = sqlite3.connect(path)
    saboteur.executescript(
        """
        CREATE TRIGGER no_boom BEFORE INSERT ON records WHEN NEW.id = 'boom'
        BEGIN SELECT RAISE(ABORT, 'boom refused'); END;
        CREATE TRIGGER keep_b BEFORE DELETE ON records WHEN OLD.id = 'b'
        BEGIN SELECT RAISE(ABORT, 'b is kept'); END;
        """
    )
    saboteur.close()
    with pytest.raises(StoreError, match="boom refused") as caught:
        store.upsert([record("c", 3, colour="red"), record("boom", 4, colour="red")])
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    with pytest.raises(StoreError, match="b is kept"):
        store.delete(["a", "b"])
    assert store.count() == 2
    assert set(store.fetch(["a", "b", "c", "boom"])) == {"a", "b"}
    assert {m.id for m in store.query(unit(0), k=5, filter={"colour": "red"})} == {"a", "b"}
    store.upsert([record("c", 3, colour="red")])
    assert store.query(unit(3), k=1)[0].id == "c"
    assert store.count() == 3


def test_a_damaged_vector_block_is_reported(path: Path) -> None:
    with LocalStore(path) as store:
        store.upsert([record("a", 1)])
    tamper(path, "UPDATE blocks SET vectors = x'000000'")
    with pytest.raises(StoreFormatError, match="damaged"):
        LocalStore(path)


def test_a_damaged_meta_table_is_reported(path: Path) -> None:
    LocalStore(path).close()
    tamper(path, "DELETE FROM meta WHERE key = 'seq'")
    with pytest.raises(StoreFormatError, match="meta"):
        LocalStore(path)


def test_a_store_whose_history_went_back_reloads_everything(store: LocalStore, path: Path) -> None:
    store.upsert([record("a", 1), record("b", 2)])
    store.upsert([record("c", 3)])
    # As if the file had been restored from an older copy.
    tamper(
        path, "DELETE FROM records WHERE id = 'c'", "UPDATE meta SET value = 1 WHERE key = 'seq'"
    )
    assert store.count() == 2
    assert store.fetch(["c"]) == {}
    assert [m.id for m in store.query(unit(2), k=1)] == ["b"]


def test_threads_can_share_a_store(store: LocalStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(20):
                store.upsert([record(f"w{worker}-{i}", worker * 100 + i, worker=worker)])
                store.query(unit(i), k=3, filter={"worker": worker})
                if i % 5 == 4:
                    store.delete([f"w{worker}-{i - 1}"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 4 * 16
    assert len(store.query(unit(0), k=100, filter={"worker": 2})) == 16


def test_strings_that_are_not_valid_unicode_are_refused_cleanly(store: LocalStore) -> None:
    odd = "lone \ud800 surrogate"
    store.upsert([record("a", 1, title="ok")])
    with pytest.raises(InvalidMetadataError, match="Unicode"):
        store.upsert([record("b", 2, title=odd)])
    with pytest.raises(InvalidVectorError, match="Unicode"):
        store.upsert([record(odd, 2)])
    assert store.fetch([odd, "b"]) == {}
    store.delete([odd])
    assert store.count() == 1


@pytest.mark.parametrize("arrow", [True, False], ids=["json-arrow", "json-extract"])
def test_columns_load_every_type_from_the_file(
    path: Path, monkeypatch: pytest.MonkeyPatch, arrow: bool
) -> None:
    monkeypatch.setattr(local_schema, "JSON_ARROW", arrow)
    values = {
        "s": "plain",
        "q": 'quote " and \\ back\\slash',
        "u": "naïve ☕",
        "i": 7,
        "f": 2.5,
        "big": 1e300,
        "t": True,
        "no": False,
        "l": ["x", 'y "z"'],
        "empty": [],
    }
    with LocalStore(path) as writer:
        writer.upsert([record(key, i, v=value) for i, (key, value) in enumerate(values.items())])
    with LocalStore(path) as store:  # a fresh store loads the column from the file

        def ids(flt: dict[str, object]) -> set[str]:
            return {m.id for m in store.query(unit(0), k=20, filter=flt)}

        for key, value in values.items():
            if isinstance(value, list):
                for element in value:
                    assert key in ids({"v": element})
            else:
                assert ids({"v": value}) == {key}, key
        assert ids({"v": {"$gte": 2.5}}) == {"i", "f", "big"}
        assert ids({"v": 7.0}) == {"i"}
        assert ids({"v": {"$exists": True}}) == set(values)


def test_search_split_over_threads_scores_every_vector(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matrix_module, "CHUNK_BYTES", 7 * 4 * DIM)
    monkeypatch.setattr(matrix_module, "_PARALLEL_FROM", 0)
    monkeypatch.setattr(matrix_module, "_WORKERS", 3)
    records = [record(f"r{i}", i, fifth=i % 5 == 0) for i in range(200)]
    probe = unit(1234)
    expected = sorted(records, key=lambda r: -float(r.vector @ probe))
    with LocalStore(path) as store:
        store.upsert(records)
        everything = store.query(probe, k=200)
        # A filter that keeps a fifth: only those rows are gathered and scored.
        fifths = store.query(probe, k=200, filter={"fifth": True})
    for got, want in (
        (everything, expected),
        (fifths, [r for r in expected if r.metadata["fifth"]]),
    ):
        assert [m.id for m in got] == [r.id for r in want]
        for match, r in zip(got, want, strict=True):
            assert match.score == pytest.approx(float(r.vector @ probe), abs=1e-6)
