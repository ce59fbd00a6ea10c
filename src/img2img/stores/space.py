"""A store's embedding space is recorded with the first vector written, not before.

A run that writes nothing (no network, no key, every image bad) leaves an
empty store as it found it, open to any embedder. Only vectors make a space
binding: a store holding vectors of one model refuses to mix in another's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from img2img.models import EmbeddingSpace, Filter, Match, Vector, VectorRecord
from img2img.protocols import VectorStore
from img2img.stores.validation import check_same_space

__all__ = ["SpaceOnFirstWrite", "check_accepts", "holds_space"]


def holds_space(store: VectorStore, space: EmbeddingSpace) -> bool:
    """Whether ``store`` holds vectors to compare with ``space``'s; ``False`` when it holds none.

    Raises :class:`~img2img.errors.EmbeddingSpaceMismatchError` when it holds
    vectors of another space.
    """
    recorded = store.embedding_space()
    if recorded == space:
        return True
    if store.count() == 0:
        return False
    check_same_space(recorded, space)
    return True  # vectors written without a recorded space: the store checks dimensions


def check_accepts(store: VectorStore, space: EmbeddingSpace) -> None:
    """Raise :class:`~img2img.errors.EmbeddingSpaceMismatchError` unless vectors of
    ``space`` may be written to ``store``; checks before a run starts, writes nothing."""
    holds_space(store, space)


class SpaceOnFirstWrite:
    """A ``VectorStore`` passing every call to ``store``, recording ``space`` just
    before the first non-empty upsert."""

    def __init__(self, store: VectorStore, space: EmbeddingSpace) -> None:
        self.store = store
        self.space = space
        self._recorded = False
        self._lock = threading.Lock()

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        if records:
            with self._lock:
                if not self._recorded:
                    self.store.set_embedding_space(self.space)
                    self._recorded = True
        self.store.upsert(records)

    def query(self, vector: Vector, *, k: int = 5, filter: Filter | None = None) -> list[Match]:
        return self.store.query(vector, k=k, filter=filter)

    def fetch(self, ids: Sequence[str]) -> dict[str, VectorRecord]:
        return self.store.fetch(ids)

    def delete(self, ids: Sequence[str] = (), *, filter: Filter | None = None) -> None:
        self.store.delete(ids, filter=filter)

    def scan(self, *, batch_size: int = 1000) -> Iterator[list[VectorRecord]]:
        return self.store.scan(batch_size=batch_size)

    def count(self) -> int:
        return self.store.count()

    def embedding_space(self) -> EmbeddingSpace | None:
        return self.store.embedding_space()

    def set_embedding_space(self, space: EmbeddingSpace) -> None:
        self.store.set_embedding_space(space)

    def close(self) -> None:
        """Leaves ``store`` open: it belongs to the caller."""
