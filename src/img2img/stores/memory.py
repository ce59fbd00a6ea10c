"""InMemoryStore: exact cosine search over a numpy matrix. For tests and small jobs."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np

from img2img.errors import EmbeddingSpaceMismatchError
from img2img.filters import compile_filter
from img2img.models import EmbeddingSpace, Filter, Match, MetadataValue, Vector, VectorRecord
from img2img.stores.columns import MetadataColumns
from img2img.stores.paging import check_batch_size, records_in_pages
from img2img.stores.validation import check_query_vector, check_same_space, stack_records

__all__ = ["InMemoryStore"]


class InMemoryStore:
    """A ``VectorStore`` that lives in this process and is gone when it ends.

    Thread-safe. Search is exact: one matrix-vector product over all vectors.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._space: EmbeddingSpace | None = None
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._metadata: list[dict[str, MetadataValue]] = []
        # Filter columns are rebuilt lazily after each write: simple, and cheap at this size.
        self._columns = MetadataColumns(self._load_column)

    def _load_column(self, field: str) -> tuple[list[int], list[MetadataValue]]:
        rows = [row for row, md in enumerate(self._metadata) if field in md]
        return rows, [self._metadata[row][field] for row in rows]

    def _changed(self) -> None:
        self._columns.forget()
        self._columns.resize(len(self._ids))

    def _dimension(self) -> int | None:
        if self._space is not None:
            return self._space.dimension
        return self._vectors.shape[1] if self._ids else None

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        with self._lock:
            ids, matrix, metadata = stack_records(records, self._dimension())
            if not ids:
                return
            if not self._ids:
                self._vectors = np.zeros((0, matrix.shape[1]), dtype=np.float32)
            new_rows = []
            for i, record_id in enumerate(ids):
                row = self._row.get(record_id)
                if row is None:
                    new_rows.append(i)
                else:
                    self._vectors[row] = matrix[i]
                    self._metadata[row] = metadata[i]
            for i in new_rows:
                self._row[ids[i]] = len(self._ids)
                self._ids.append(ids[i])
                self._metadata.append(metadata[i])
            self._vectors = np.concatenate([self._vectors, matrix[new_rows]])
            self._changed()

    def query(self, vector: Vector, *, k: int = 5, filter: Filter | None = None) -> list[Match]:
        compiled = compile_filter(filter)
        with self._lock:
            query = check_query_vector(vector, self._dimension())
            if not self._ids or k <= 0:
                return []
            scores = self._vectors @ query
            rows = (
                None
                if compiled.matches_everything
                else np.flatnonzero(compiled.mask(self._columns))
            )
            candidates = scores if rows is None else scores[rows]
            top = np.argsort(-candidates, kind="stable")[:k]
            chosen = top if rows is None else rows[top]
            return [
                Match.from_metadata(self._ids[r], float(scores[r]), self._metadata[r])
                for r in chosen
            ]

    def fetch(self, ids: Sequence[str]) -> dict[str, VectorRecord]:
        with self._lock:
            return {
                i: VectorRecord(i, self._vectors[r].copy(), dict(self._metadata[r]))
                for i in ids
                if (r := self._row.get(i)) is not None
            }

    def delete(self, ids: Sequence[str] = (), *, filter: Filter | None = None) -> None:
        compiled = compile_filter(filter) if filter is not None else None
        with self._lock:
            doomed = {self._row[i] for i in ids if i in self._row}
            if compiled is not None:
                doomed.update(np.flatnonzero(compiled.mask(self._columns)).tolist())
            if not doomed:
                return
            keep = [r for r in range(len(self._ids)) if r not in doomed]
            self._ids = [self._ids[r] for r in keep]
            self._metadata = [self._metadata[r] for r in keep]
            self._vectors = self._vectors[keep]
            self._row = {record_id: r for r, record_id in enumerate(self._ids)}
            self._changed()

    def scan(self, *, batch_size: int = 1000) -> Iterator[list[VectorRecord]]:
        check_batch_size(batch_size)
        with self._lock:
            ids = list(self._ids)
        return records_in_pages([ids], self.fetch, batch_size)

    def count(self) -> int:
        with self._lock:
            return len(self._ids)

    def embedding_space(self) -> EmbeddingSpace | None:
        return self._space

    def set_embedding_space(self, space: EmbeddingSpace) -> None:
        """Record ``space``; an empty store takes any space, one holding vectors only its own."""
        with self._lock:
            held = self._vectors.shape[1]
            if self._ids:
                check_same_space(self._space, space)
                if self._space is None and held != space.dimension:
                    raise EmbeddingSpaceMismatchError(
                        f"this store holds {held}-d vectors, not {space}: use a separate store "
                        "for this embedder"
                    )
            self._space = space

    def picture_cache_path(self) -> str:
        """Pictures of a store in memory are cached in memory, for as long as it lives."""
        return ":memory:"

    def close(self) -> None:
        """Nothing to release; present so every store can be closed alike."""
