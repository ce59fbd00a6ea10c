"""The on-disk format of :class:`~img2img.stores.local.store.LocalStore`: opening it safely, reading it.

One SQLite file in WAL mode::

    meta     key -> value: seq, slots, dimension, model_id, rows_per_block, store_id
    records  slot (rowid), id, seq, metadata (JSON)        one row per stored vector
    blocks   block, seq, vectors (float32 LE, row-major)   rows_per_block slots each
    freed    slot, seq                                     slots emptied by deletes

Vectors live in blocks of consecutive *slots* rather than one row each, so a
million of them load in a few large reads instead of a million small ones.
Every write transaction bumps ``meta.seq`` and stamps what it touched with
it; another connection catches up by reading only rows stamped after the
``seq`` it last saw. ``store_id`` (random) tells this store's approximate
index file from another's. ``PRAGMA application_id`` marks the file as a store and
``PRAGMA user_version`` holds the format version, so a file is recognised,
or refused, before anything is written to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from img2img.errors import StoreError, StoreFormatError

__all__ = [
    "APPLICATION_ID",
    "FORMAT_VERSION",
    "default_store_path",
    "encodable",
    "load_column",
    "open_store_file",
    "read_meta",
    "rows_in",
    "set_meta",
]

#: "i2is" in ASCII: marks the SQLite file as an img2img store.
APPLICATION_ID = 0x69326973
#: Bump when a change would mislead an older reader; older readers then refuse the file.
FORMAT_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
_BUSY_TIMEOUT_SECONDS = 30.0
# Larger pages halve the page reads of loading vector blocks at little cost to small writes.
_PAGE_SIZE = 8192

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    slot INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_seq ON records (seq);
CREATE TABLE IF NOT EXISTS blocks (
    block INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    vectors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_seq ON blocks (seq);
CREATE TABLE IF NOT EXISTS freed (slot INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS freed_seq ON freed (seq);
"""


def default_store_path() -> Path:
    """Where a store lives when no path is given.

    ``$IMG2IMG_HOME/index.sqlite3`` if that variable is set, else
    ``index.sqlite3`` under the user's data directory: ``$XDG_DATA_HOME/img2img``
    (default ``~/.local/share/img2img``), or ``%LOCALAPPDATA%\\img2img`` on Windows.
    """
    home = os.environ.get("IMG2IMG_HOME")
    if home:
        return Path(home).expanduser() / "index.sqlite3"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "img2img" / "index.sqlite3"


def _probe(path: Path) -> tuple[int, int, int]:
    """``(application_id, user_version, number of schema objects)`` read through SQLite."""
    try:
        probe = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
        )
        try:
            probe.execute("BEGIN")  # one snapshot: another process may be creating the store
            app_id = probe.execute("PRAGMA application_id").fetchone()[0]
            version = probe.execute("PRAGMA user_version").fetchone()[0]
            objects = probe.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        raise StoreFormatError(f"{path} is not a readable img2img store: {exc}") from exc
    return app_id, version, objects


def _inspect(path: Path) -> bool:
    """True if ``path`` must be created as a new store; raise if it is not a store.

    Reads only: a file that is refused is left exactly as it was.
    """
    if not path.exists():
        return True
    if not path.is_file():
        raise StoreFormatError(f"{path} is not a file, so it cannot be an img2img store")
    with path.open("rb") as handle:
        header = handle.read(_HEADER_SIZE)
    if not header:
        return True
    if len(header) < _HEADER_SIZE or not header.startswith(_SQLITE_MAGIC):
        raise StoreFormatError(f"{path} is not an img2img store (not an SQLite database)")
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # The newest header may still sit in the write-ahead log: ask SQLite.
        app_id, version, objects = _probe(path)
    else:
        # Read the header fields directly, so even the -wal and -shm files SQLite
        # creates on opening a WAL database are not made for a file we refuse.
        version = int.from_bytes(header[60:64], "big", signed=True)
        app_id = int.from_bytes(header[68:72], "big", signed=True)
        objects = -1 if app_id == 0 else 1
    if app_id == 0 and objects < 0:
        # Ask SQLite, and take all its answers: another process may have just made the store.
        app_id, version, objects = _probe(path)
    if app_id != APPLICATION_ID:
        if app_id == 0 and objects == 0:
            return True  # an empty SQLite database: nothing to lose by making it a store
        raise StoreFormatError(
            f"{path} is an SQLite database of another application, not an img2img store"
        )
    if version > FORMAT_VERSION:
        raise StoreFormatError(
            f"{path} was written by a newer img2img (store format {version}; this version "
            f"reads up to {FORMAT_VERSION}): upgrade img2img to open it"
        )
    if version < 1:
        raise StoreFormatError(f"{path} has no valid store format version ({version})")
    return False


def _create_private(path: Path) -> None:
    """Make the folders and the empty file for a new store, readable by this user only.

    A store holds what its user searched for and where it was found; SQLite
    gives its ``-wal`` and ``-shm`` files the permissions of the database file.
    """
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for folder in missing:
        folder.mkdir(mode=0o700, exist_ok=True)
    # FileExistsError: made meanwhile by another process, or an empty file already there.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _why_not(path: Path, exc: OSError) -> str:
    """What stops a store being made at ``path``: above all, a file where a folder must be."""
    for parent in path.parents:
        if parent.is_file():
            return f"{parent} is a file, not a folder"
    return exc.strerror or str(exc)


def _create(con: sqlite3.Connection) -> None:
    con.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have created the store since we looked.
        if con.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            con.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [("seq", 0), ("slots", 0), ("store_id", uuid.uuid4().hex)],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _open_read_only(path: Path) -> sqlite3.Connection:
    """An existing store opened for reading only, on a file system that may refuse writes.

    SQLite reads a WAL database read-only when it may make (or find) the ``-shm``
    file beside it; on a read-only file system it may not, and the database is
    opened as immutable instead: no other process can be writing there.
    """
    if _inspect(path):
        raise StoreError(f"no store at {path} to read")
    uri = path.resolve().as_uri()
    for mode in ("mode=ro", "immutable=1"):
        con = sqlite3.connect(
            f"{uri}?{mode}", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            con.close()
            continue
        return con
    raise StoreError(f"cannot read the store at {path}")


def _switch_to_wal(con: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting out another process that is opening it too.

    The switch needs the file to itself, and SQLite answers "database is locked"
    at once rather than calling its busy handler, so wait here as the handler would.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_SECONDS
    pause = 0.005
    while True:
        try:
            con.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def open_store_file(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) the store at ``path`` and return an autocommit connection;
    with ``read_only``, open an existing store for reading only, creating and writing nothing.

    Raises :class:`StoreFormatError` for a file that is not a store or is too
    new, and :class:`StoreError` when SQLite cannot open it.
    """
    if read_only:
        try:
            return _open_read_only(path)
        except OSError as exc:
            raise StoreError(f"cannot read the store at {path}: {exc}") from exc
    try:
        new = _inspect(path)
        if new:
            _create_private(path)
    except OSError as exc:
        raise StoreError(f"cannot open the store at {path}: {_why_not(path, exc)}") from exc
    try:
        con = sqlite3.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_SECONDS,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    try:
        if new:
            con.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        _switch_to_wal(con)
        # FULL: a write acknowledged to the caller survives power loss, not just a crash.
        con.execute("PRAGMA synchronous = FULL")
        # Random ids dirty about one index page per record, so a batch of 1,000
        # writes ~8 MB: checkpoint every ~80 MB rather than every 8 MB, so a page
        # written by several batches reaches the database file once; keep index
        # pages cached between batches; and trim the log back after checkpoints.
        con.execute("PRAGMA wal_autocheckpoint = 10000")
        con.execute("PRAGMA cache_size = -65536")
        con.execute("PRAGMA journal_size_limit = 67108864")
        if new:
            _create(con)
    except sqlite3.Error as exc:
        con.close()
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    except BaseException:
        con.close()
        raise
    return con


_IN_CHUNK = 500  # values per "IN (...)" list, well under SQLite's variable limit


def rows_in(con: sqlite3.Connection, sql: str, values: Sequence[Any]) -> list[Any]:
    """Run ``sql`` (with ``{}`` where the ``IN`` list goes) over ``values``, a chunk at a time."""
    rows: list[Any] = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start : start + _IN_CHUNK]
        rows += con.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def encodable(texts: Sequence[str]) -> list[str]:
    """The strings SQLite can hold (valid UTF-8); ids outside these were never stored."""
    out = []
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            continue
        out.append(text)
    return out


def set_meta(con: sqlite3.Connection, values: dict[str, object]) -> None:
    con.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items()))


def read_meta(con: sqlite3.Connection) -> dict[str, object]:
    """The ``meta`` table as a dict; raise :class:`StoreFormatError` if it is unusable."""
    meta: dict[str, object] = dict(con.execute("SELECT key, value FROM meta").fetchall())
    if not isinstance(meta.get("seq"), int) or not isinstance(meta.get("slots"), int):
        raise StoreFormatError("the store's meta table is damaged (no seq or slots)")
    return meta


#: SQLite 3.38 added ``->``, which parses each document once: a third faster here.
JSON_ARROW = sqlite3.sqlite_version_info >= (3, 38, 0)


def _from_json(text: str) -> Any:
    """A scalar or list from its JSON text, skipping the parser for the common cases."""
    first = text[0]
    if first == '"':
        return text[1:-1] if "\\" not in text else json.loads(text)
    if first == "t" or first == "f":
        return first == "t"
    if first == "[":
        return json.loads(text)
    return float(text)  # a number: stores compare numbers as floats anyway


def load_column(con: sqlite3.Connection, field: str) -> tuple[list[int], list[Any]]:
    """``(slots, values)`` of one metadata field, for the records that have it."""
    if '"' in field or "\\" in field:  # not expressible as a JSON path: parse here
        pairs = [
            (slot, json.loads(text).get(field))
            for slot, text in con.execute("SELECT slot, metadata FROM records")
        ]
        pairs = [(slot, value) for slot, value in pairs if value is not None]
    elif JSON_ARROW:
        path = f'$."{field}"'
        rows = con.execute("SELECT slot, metadata -> ? FROM records", (path,)).fetchall()
        pairs = [(slot, _from_json(text)) for slot, text in rows if text is not None]
    else:
        path = f'$."{field}"'
        rows = con.execute(
            "SELECT slot, json_type(metadata, ?), json_extract(metadata, ?) FROM records",
            (path, path),
        ).fetchall()
        pairs = [(slot, _from_typed(kind, value)) for slot, kind, value in rows if kind is not None]
    return [slot for slot, _ in pairs], [value for _, value in pairs]


def _from_typed(kind: str, value: Any) -> Any:
    """A value from ``json_extract``, which returns booleans as 0/1 and lists as JSON text."""
    if kind == "true" or kind == "false":
        return kind == "true"
    if kind == "array":
        return json.loads(value)
    return value
