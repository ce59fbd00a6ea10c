"""Every record's nearest neighbours in a whole store, found a batch at a time.

Asking the store once per record costs n queries, each a pass over the store:
n² work. A store that answers many queries in one call (``query_many``:
LocalStore's blocked matrix products, or one batch search of its HNSW graph;
PineconeStore's concurrent requests, paced under its rate limit) is asked once
per page of the scan instead; any other store is asked per
record, as before. This module finds neighbours only; judging whether a pair
shows the same picture is the caller's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from img2img.filters import compile_filter
from img2img.models import Filter, Match, Vector, VectorRecord
from img2img.postings.region_records import is_region
from img2img.protocols import VectorStore

__all__ = ["ManyQueries", "nearest_neighbours"]


@runtime_checkable
class ManyQueries(Protocol):
    """A store that answers a matrix of queries in one call (``LocalStore`` and
    ``PineconeStore`` do)."""

    def query_many(
        self,
        vectors: Vector,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
    ) -> list[list[Match]]: ...


def nearest_neighbours(
    store: VectorStore,
    *,
    k: int,
    min_score: float,
    filter: Filter | None = None,
    batch_size: int = 1000,
) -> Iterator[tuple[VectorRecord, list[Match]]]:
    """Each record ``filter`` selects, with its ``k`` nearest others scoring ``>= min_score``.

    The store is read ``batch_size`` records at a time; memory holds one page
    and its answers, whatever the store's size.
    """
    from threadpoolctl import threadpool_limits

    wanted = compile_filter(filter)
    batched = isinstance(store, ManyQueries)
    # Regions of stored composites are neither scanned nor neighbours: a record is
    # never paired with its own regions, nor with a picture through them. They are
    # dropped from the answers, not filtered in the store (a filter takes a store off
    # its fastest path, and most stores hold no regions); from the first page that
    # shows the store has some, more are asked for in their place.
    ask = k + 1
    for page in store.scan(batch_size=batch_size):
        if ask == k + 1 and any(is_region(record.metadata) for record in page):
            ask = 2 * k + 1
        records = [
            record for record in page if wanted(record.metadata) and not is_region(record.metadata)
        ]
        if not records:
            continue
        answers: Iterable[list[Match]]
        if batched:
            # Callers may hold BLAS to one thread for verifying; a blocked product
            # of a page of queries is the one place here where BLAS threads pay.
            with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
                answers = store.query_many(  # type: ignore[attr-defined]
                    np.stack([record.vector for record in records]),
                    k=ask,
                    filter=filter,
                    min_score=min_score,
                )
        else:  # one record at a time: only one answer is held
            answers = (store.query(record.vector, k=ask, filter=filter) for record in records)
        for record, matches in zip(records, answers, strict=True):
            yield (
                record,
                [
                    m
                    for m in matches
                    if m.id != record.id and m.score >= min_score and not is_region(m.metadata)
                ][:k],
            )
