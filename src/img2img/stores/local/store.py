"""LocalStore: a durable vector store in one SQLite file, searched exactly or through HNSW.

The file is the truth (format in :mod:`img2img.stores.local.schema`); memory
holds a float32 copy of every vector, indexed by slot, plus the metadata
columns that filters have asked for. Each operation first catches up with
writes other processes committed, inside the same SQLite transaction, so what
it reads is one consistent snapshot. The optional approximate index
(:mod:`img2img.stores.local.approximate`) is a cache beside the file, caught
up from it the same way before each search.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from img2img.closing import Closing
from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    InvalidMetadataError,
    InvalidVectorError,
    MissingDependencyError,
    StoreError,
    StoreNotFoundError,
)
from img2img.filters import compile_filter
from img2img.models import EmbeddingSpace, Filter, Match, Vector, VectorRecord
from img2img.stores.local.access import can_write, check_can_create
from img2img.stores.local.approximate import (
    ApproximateIndex,
    check_quantization,
    usearch_available,
)
from img2img.stores.local.blocks import write_blocks
from img2img.stores.local.graphs import GraphKeeper
from img2img.stores.local.lists import (
    PASS_LISTS_FROM,
    ListIndex,
    PassQueries,
    lists_available,
)
from img2img.stores.local.mapped import MAPPED_AVAILABLE, FilesAhead, MappedVectors
from img2img.stores.local.matrix import SlotMatrix
from img2img.stores.local.mirror import FileMirror
from img2img.stores.local.ranking import EXACT_BELOW, CandidateIndex, Ranked, matches_of, rank
from img2img.stores.local.schema import (
    default_store_path,
    encodable,
    open_store_file,
    rows_in,
    set_meta,
)
from img2img.stores.paging import check_batch_size, records_in_pages
from img2img.stores.validation import check_query_vector, check_same_space, stack_records

__all__ = ["LocalStore", "default_store_path"]

#: Bytes of vectors per block: small enough that rewriting one for a single
#: upsert is cheap, large enough that loading a million vectors is a few
#: thousand reads.
BLOCK_BYTES = 256 * 1024
#: How a store is searched: ``exact`` scans every vector; ``hnsw`` asks the
#: approximate index; ``auto`` scans below :data:`AUTO_HNSW_FROM` vectors and
#: uses the index from there on (if usearch is installed).
INDEX_KINDS = ("exact", "hnsw", "auto")
#: Where the vectors are held: ``memory`` (a float32 copy, read from the file at
#: open) or ``mapped`` (files beside the store, see :mod:`img2img.stores.local.mapped`).
VECTOR_HOLDERS = ("memory", "mapped")
#: Where ``index="auto"`` switches: an exact scan of 100,000 512-d vectors takes
#: about 6 ms here, and building the graph of that many about a minute.
AUTO_HNSW_FROM = 100_000


class LocalStore(FileMirror, Closing):
    """A ``VectorStore`` in one SQLite file: durable, embedded, no server.

    ``LocalStore(path)`` opens the store at ``path`` (``~`` expanded), creating
    it (and its folder) if missing; with no path it uses :func:`default_store_path`.
    An ``upsert`` or ``delete`` is one transaction: once it returns, the change
    survives a crash or power loss; if it raises, nothing was written.
    Search is exact cosine (dot product of unit vectors) over every stored
    vector, unless ``index`` says otherwise: ``"hnsw"`` searches an HNSW graph
    (usearch, ``pip install 'img2img-search[ann]'``) kept in ``<path>.hnsw``
    and re-ranks its candidates exactly; ``"auto"`` does so from
    :data:`AUTO_HNSW_FROM` vectors on. The graph is only a cache: it is caught
    up from the SQLite file before each search and rebuilt if missing or
    damaged, so a crash never loses a write. ``quantization`` (``"f32"``,
    ``"f16"``, ``"i8"``) is how the graph holds its vectors. Filters select
    exactly what they select in an exact scan (Pinecone's semantics): the graph
    is over-fetched and its candidates filtered, and a filter selecting fewer
    than ``scan_below`` vectors is answered by an exact scan of them.
    Writes committed by other processes are seen by the next call.
    Thread-safe; close it (or use it as a context manager) when done.

    ``read_only=True`` opens an existing store for reading only (say, on a
    read-only file system): it creates nothing and any write raises
    :class:`~img2img.errors.StoreError`.

    Raises :class:`~img2img.errors.StoreFormatError` if ``path`` is not a
    store or was written by a newer version of img2img, and
    :class:`~img2img.errors.StoreError` if it cannot be made there (say, under
    a file).
    """

    #: Records from which :meth:`pass_queries` answers through inverted lists.
    lists_from: int = PASS_LISTS_FROM

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        index: str = "exact",
        quantization: str = "f32",
        scan_below: int = EXACT_BELOW,
        read_only: bool = False,
        vectors: str | None = None,
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ConfigurationError(f"LocalStore takes a path, got {type(path).__name__}")
        if index not in INDEX_KINDS:
            raise ConfigurationError(
                f"index must be one of {', '.join(INDEX_KINDS)}, got {index!r}"
            )
        check_quantization(quantization)
        if vectors is not None and vectors not in VECTOR_HOLDERS:
            raise ConfigurationError(
                f"vectors must be one of {', '.join(VECTOR_HOLDERS)}, got {vectors!r}"
            )
        if not isinstance(scan_below, int) or isinstance(scan_below, bool) or scan_below < 0:
            raise ConfigurationError(f"scan_below must be a count >= 0, got {scan_below!r}")
        if index == "hnsw" and not usearch_available():
            raise MissingDependencyError(
                "index='hnsw' needs usearch: pip install 'img2img-search[ann]'"
            )
        self.index, self.quantization, self.scan_below = index, quantization, scan_below
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        #: Opened for reading only (``read_only=True``): writes raise ``StoreError``.
        self.read_only = read_only
        #: Where the vectors are held (``mapped`` by default with ``index="hnsw"``;
        #: a read-only store holds them in memory, as it may write no file).
        if vectors == "mapped" and not MAPPED_AVAILABLE:
            raise ConfigurationError("vectors='mapped' needs a POSIX system (flock, pread)")
        self.vectors = vectors or ("mapped" if index == "hnsw" else "memory")
        if read_only or not MAPPED_AVAILABLE:
            self.vectors = "memory"
        self._lock = threading.RLock()
        self._claimed: EmbeddingSpace | None = None  # the space this handle recorded
        self._graphs = GraphKeeper(self.path, quantization)
        self._con: sqlite3.Connection | None = open_store_file(self.path, read_only=read_only)
        self._matrix: SlotMatrix | MappedVectors | None = None
        self._reset()
        try:
            if (index != "exact" or self.vectors == "mapped") and not read_only:
                # A store made before graphs has no id for the files beside it to carry.
                with self._lock:
                    self._con.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)",
                        (uuid.uuid4().hex,),
                    )
            with self._lock, self._transaction():
                pass
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    command_note = "--store PATH: a file on this machine (default: the per-user store)"

    @classmethod
    def from_options(cls, location: str, *, create: bool) -> LocalStore:
        """The store ``--store PATH`` names (empty: :func:`default_store_path`); a missing
        file is created only when ``create``, else :class:`~img2img.errors.StoreNotFoundError`."""
        path = Path(location).expanduser() if location.strip() else default_store_path()
        if path.is_dir():
            raise ConfigurationError(f"{path} is a folder; give a store file such as index.sqlite3")
        if not path.exists():
            if not create:
                raise StoreNotFoundError(f"no store at {path}")
            check_can_create(path)
            return cls(path)
        # A store on a read-only file system (or not ours to write) can still be read.
        return cls(path, read_only=not create and not can_write(path))

    def picture_cache_path(self) -> Path:
        """Where this store's pictures are cached: beside its file."""
        return self.path.with_suffix(".pictures.sqlite3")

    def size_bytes(self) -> int:
        """Bytes the store takes on disk, its journal included."""
        files = [self.path, *(Path(f"{self.path}{end}") for end in ("-wal", "-shm"))]
        return sum(f.stat().st_size for f in files if f.exists())

    # -- transactions and catching up -------------------------------------------------

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction in which memory is first brought up to the file's state.

        If a write fails, memory may no longer match the file, so it is dropped
        and reloaded by the next call: a rare, slow path that is always right.
        """
        con = self._con
        if con is None:
            raise StoreError(f"{self!r} is closed")
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        try:
            con.execute(begin)
            try:
                self._begin(con, begin, latest=write)
                yield con
                con.execute("COMMIT")
            except BaseException:
                if write:
                    self._reset()
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            finally:
                if self._mapped is not None:
                    self._mapped.release()
        except sqlite3.Error as exc:
            raise StoreError(f"{self!r}: {exc}") from exc

    def _begin(self, con: sqlite3.Connection, begin: str, *, latest: bool) -> None:
        """Catch memory (and the mapped files) up to the transaction's snapshot.

        Mapped files already ahead of a reading snapshot were caught up by
        another process since it began: begin again, so both agree. ``latest``:
        the snapshot is the newest state (a write holds the lock), so files
        still ahead of it belong to another history and are rebuilt.
        """
        attempts = 4
        for attempt in range(attempts):
            try:
                self._catch_up(con, reset_ahead=latest or attempt == attempts - 1)
                return
            except FilesAhead as exc:
                if attempt == attempts - 1:
                    self._reset()
                    raise StoreError(f"{self!r}: {exc}") from exc
                con.execute("ROLLBACK")
                con.execute(begin)
            except BaseException:
                self._reset()
                raise

    # -- writes --------------------------------------------------------------------

    def _slots_of(self, con: sqlite3.Connection, ids: Sequence[str]) -> dict[str, int]:
        return dict(rows_in(con, "SELECT id, slot FROM records WHERE id IN ({})", ids))

    def _write_blocks(
        self, con: sqlite3.Connection, seq: int, slots: np.ndarray[Any, Any], rows: Vector
    ) -> None:
        """Rewrite every block holding ``slots`` with ``rows`` put in; memory is untouched."""
        write_blocks(
            con,
            seq,
            slots,
            rows,
            per_block=self._per_block,
            total=self._slots,
            current=self._vectors.read,
        )

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        with self._lock:
            ids, matrix, metadata = stack_records(records, self._dim)
            if not ids:
                return
            if len(encodable(ids)) != len(ids):
                raise InvalidVectorError("ids must be valid Unicode text (no lone surrogates)")
            texts = [json.dumps(md, ensure_ascii=False, separators=(",", ":")) for md in metadata]
            if len(encodable(texts)) != len(texts):
                raise InvalidMetadataError(
                    "metadata must be valid Unicode text (no lone surrogates)"
                )
            with self._transaction(write=True) as con:
                if self._claimed is not None and self._space != self._claimed:
                    # Another process recorded its own space since this handle recorded
                    # ours (both saw an empty store): its vectors and ours must not mix.
                    raise EmbeddingSpaceMismatchError(
                        f"{self!r} now holds {self._space}, recorded by another writer since "
                        f"this one recorded {self._claimed}: use a separate store"
                    )
                dim = matrix.shape[1]
                if self._dim is not None and dim != self._dim:  # set by another process meanwhile
                    raise InvalidVectorError(f"expected dimension {self._dim}, got {dim}")
                if self._dim is None:
                    self._set_dimension(dim, max(1, BLOCK_BYTES // (4 * dim)))
                    set_meta(con, {"dimension": dim, "rows_per_block": self._per_block})
                seq = self._seq + 1
                existing = self._slots_of(con, ids)
                fresh = len(ids) - len(existing)
                free = np.flatnonzero(~self._live[: self._slots])[:fresh]
                extra = np.arange(self._slots, self._slots + fresh - free.shape[0])
                new_slots = iter(np.concatenate([free, extra]).tolist())
                slots = np.asarray(
                    [existing[i] if i in existing else next(new_slots) for i in ids], dtype=np.intp
                )
                self._grow(self._slots + extra.shape[0])
                self._write_blocks(con, seq, slots, matrix)
                con.executemany(
                    "INSERT INTO records (slot, id, seq, metadata) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, metadata = excluded.metadata",
                    zip(slots.tolist(), ids, [seq] * len(ids), texts, strict=True),
                )
                set_meta(con, {"seq": seq, "slots": self._slots})
            self._vectors.set(slots, matrix)
            self._live[slots] = True
            self._count += fresh
            self._columns.update(slots.tolist(), metadata)
            self._seq = seq
            self._keep_graph_in_step(len(ids))

    def delete(self, ids: Sequence[str] = (), *, filter: Filter | None = None) -> None:
        compiled = compile_filter(filter) if filter is not None else None
        with self._lock:
            with self._transaction(write=True) as con:
                doomed = set(self._slots_of(con, encodable(ids)).values())
                if compiled is not None and self._count:
                    mask = compiled.mask(self._columns) & self._live[: self._slots]
                    doomed.update(np.flatnonzero(mask).tolist())
                if not doomed:
                    return
                seq = self._seq + 1
                slots = np.asarray(sorted(doomed), dtype=np.intp)
                # Zero the vectors too, so deleted data does not linger in the blocks.
                zeros = np.zeros((slots.shape[0], self._dim or 0), dtype=np.float32)
                self._write_blocks(con, seq, slots, zeros)
                rows_in(con, "DELETE FROM records WHERE slot IN ({})", slots.tolist())
                con.executemany(
                    "INSERT OR REPLACE INTO freed (slot, seq) VALUES (?, ?)",
                    [(slot, seq) for slot in slots.tolist()],
                )
                set_meta(con, {"seq": seq})
            self._vectors.set(slots, zeros)
            self._live[slots] = False
            self._count -= slots.shape[0]
            self._columns.clear(slots.tolist())
            self._seq = seq
            self._keep_graph_in_step(slots.shape[0])

    def set_embedding_space(self, space: EmbeddingSpace) -> None:
        """Record ``space``; an empty store takes any space, one holding vectors only its own."""
        with self._lock:
            with self._transaction():
                self._check_space(space)  # refuse before taking the write lock
                if self._space == space:
                    self._claimed = space
                    return
            with self._transaction(write=True) as con:
                self._check_space(space)
                if self._space == space:
                    self._claimed = space
                    return
                seq = self._seq + 1
                redimension = self._dim is not None and self._dim != space.dimension
                if redimension:  # empty, so only zeroed blocks and freed slots are dropped
                    con.execute("DELETE FROM blocks")
                    con.execute("DELETE FROM freed")
                per_block = (
                    self._per_block
                    if self._per_block and not redimension
                    else max(1, BLOCK_BYTES // (4 * space.dimension))
                )
                meta: dict[str, object] = {
                    "seq": seq,
                    "model_id": space.model_id,
                    "dimension": space.dimension,
                    "rows_per_block": per_block,
                }
                if redimension:
                    meta["slots"] = 0
                set_meta(con, meta)
            self._claimed = space
            if redimension:
                self._reset()  # the next call reloads the emptied file
                return
            if self._dim is None:
                self._set_dimension(space.dimension, per_block)
            self._space = space
            self._seq = seq

    def _check_space(self, space: EmbeddingSpace) -> None:
        if self._count == 0:
            return  # no vector binds an empty store to a space
        check_same_space(self._space, space)
        if self._space is None and self._dim is not None and self._dim != space.dimension:
            raise EmbeddingSpaceMismatchError(
                f"this store holds {self._dim}-d vectors, not {space}: use a separate store "
                "for this embedder"
            )

    # -- reads ---------------------------------------------------------------------

    def query(self, vector: Vector, *, k: int = 5, filter: Filter | None = None) -> list[Match]:
        compiled = compile_filter(filter)
        with self._lock, self._transaction() as con:
            query = check_query_vector(vector, self._dim)
            if self._count == 0 or k <= 0:
                return []
            return matches_of(con, self._top(con, query[None, :], k, compiled, many=False))[0]

    def query_many(
        self,
        vectors: Vector,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
        exact: bool = False,
    ) -> list[list[Match]]:
        """:meth:`query` for every row of ``vectors`` (float32 ``(n, dim)``), in one pass.

        The exact store answers with blocked matrix products, the approximate
        one with one batch search of its graph: many times faster than ``n``
        queries. Matches scoring below ``min_score`` are left out. ``exact``:
        scan even where the store has a graph (for the few records a graph
        search cannot reach).
        """
        return self._query_many(vectors, k=k, filter=filter, min_score=min_score, exact=exact)

    @contextmanager
    def pass_queries(self) -> Iterator[PassQueries]:
        """What a pass asking for every record's neighbours (``duplicates()``) asks.

        From :attr:`lists_from` records on,
        with faiss installed (the ``ann`` extra), inverted lists of the records
        live now are built on entry (seconds, where the graph takes minutes) and
        answer ``query_many`` until exit, re-ranked exactly as the graph's
        candidates are; below it, or without faiss, the store answers as
        :meth:`query_many` does. ``query_many(..., exact=True)`` always scans.
        """
        if self._count == 0 or self._count < self.lists_from or not lists_available():
            yield PassQueries(self.query_many)
            return
        with self._lock, self._transaction():
            lists = ListIndex.build(self._vectors, self._live[: self._slots])
        yield PassQueries(partial(self._query_many, lists=lists))

    def _query_many(
        self,
        vectors: Vector,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
        exact: bool = False,
        lists: ListIndex | None = None,
    ) -> list[list[Match]]:
        """:meth:`query_many`, with candidates from ``lists`` if given."""
        compiled = compile_filter(filter)
        with self._lock, self._transaction() as con:
            rows = np.asarray(vectors, dtype=np.float32)
            if rows.ndim != 2 or (self._dim is not None and rows.shape[1] != self._dim):
                raise InvalidVectorError(
                    f"expected a matrix of {self._dim}-d query rows, got shape {rows.shape}"
                )
            if not np.isfinite(rows).all():
                raise InvalidVectorError("query vectors must be finite")
            if self._count == 0 or k <= 0 or rows.shape[0] == 0:
                return [[] for _ in range(rows.shape[0])]
            ranked = self._top(con, rows, k, compiled, many=True, exact=exact, lists=lists)
            return matches_of(con, ranked, min_score)

    def _top(
        self,
        con: sqlite3.Connection,
        queries: Vector,
        k: int,
        compiled: Any,
        *,
        many: bool,
        exact: bool = False,
        lists: ListIndex | None = None,
    ) -> list[Ranked]:
        """Each query row's best ``k`` live slots that ``compiled`` selects (candidates from
        ``lists`` if given, else from the graph if the store has one)."""
        live = self._live[: self._slots]
        mask = None if compiled.matches_everything else compiled.mask(self._columns) & live
        selected = self._count if mask is None else int(np.count_nonzero(mask))
        use_index = not exact and selected and (mask is None or selected >= self.scan_below)
        if lists is not None and mask is None and lists.stale(live):
            mask = live  # the lists still hold slots freed since they were built
        index: CandidateIndex | None = None
        if use_index:
            index = lists if lists is not None else self._caught_up_graph(con)
        return rank(queries, k, matrix=self._vectors, live=live, mask=mask, index=index, many=many)

    # -- the approximate index -------------------------------------------------------

    def _uses_graph(self) -> bool:
        if self.index == "exact" or self._dim is None:
            return False
        if self.index == "auto":
            return self._count >= AUTO_HNSW_FROM and usearch_available()
        return True

    def _keep_graph_in_step(self, written: int) -> None:
        """Catch the graph up every few thousand writes (see :mod:`.graphs`). The write is
        committed already: a graph that cannot be caught up now is caught up by a search."""
        if self._graphs.lagging(written) and self._uses_graph():
            with suppress(StoreError), self._transaction() as con:
                self._caught_up_graph(con)

    def _caught_up_graph(self, con: sqlite3.Connection) -> ApproximateIndex | None:
        """The graph, up to date with this transaction; ``None`` when the store scans."""
        if not self._uses_graph():
            return None
        return self._graphs.caught_up(
            con,
            store_id=self._store_id,
            seq=self._seq,
            vectors=self._vectors,
            live=self._live[: self._slots],
        )

    def fetch(self, ids: Sequence[str]) -> dict[str, VectorRecord]:
        with self._lock, self._transaction() as con:
            rows = {
                record_id: (slot, text)
                for record_id, slot, text in rows_in(
                    con,
                    "SELECT id, slot, metadata FROM records WHERE id IN ({})",
                    encodable(list(dict.fromkeys(ids))),
                )
            }
            if not rows:
                return {}
            vectors = self._vectors.get(np.asarray([slot for slot, _ in rows.values()]))
            out = {
                record_id: VectorRecord(record_id, vector, json.loads(text))
                for (record_id, (_, text)), vector in zip(rows.items(), vectors, strict=True)
            }
            return {i: out[i] for i in ids if i in out}

    def scan(self, *, batch_size: int = 1000) -> Iterator[list[VectorRecord]]:
        check_batch_size(batch_size)
        return records_in_pages(self._id_pages(batch_size), self.fetch, batch_size)

    def _id_pages(self, size: int) -> Iterator[list[str]]:
        """Ids in slot order, one short transaction per page, so writers are never held up."""
        after = -1
        while True:
            with self._lock, self._transaction() as con:
                rows = con.execute(
                    "SELECT slot, id FROM records WHERE slot > ? ORDER BY slot LIMIT ?",
                    (after, size),
                ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [record_id for _, record_id in rows]

    def count(self) -> int:
        with self._lock, self._transaction():
            return self._count

    def embedding_space(self) -> EmbeddingSpace | None:
        with self._lock, self._transaction():
            return self._space

    def close(self) -> None:
        """Release the file. Idempotent; the store cannot be used afterwards."""
        with self._lock:
            if self._con is not None:
                if self._graphs.behind_in_memory and self._uses_graph():
                    # Its own last writes, while the graph is at hand: the next open
                    # then finds it current.
                    with suppress(StoreError), self._transaction() as con:
                        self._caught_up_graph(con)
                if self._graphs.unsaved:
                    self._graphs.save()
                self._con.close()
                self._con = None
                self._reset()  # release the vectors now, not when the object is collected
