"""Every record's nearest neighbours in a whole store, found a batch at a time.

Asking the store once per record costs n queries, each a pass over the store:
n² work. A store that answers many queries in one call (``query_many``:
LocalStore's blocked matrix products, or one batch search of its HNSW graph;
PineconeStore's concurrent requests, paced under its rate limit) is asked once
per page of the scan instead; any other store is asked per
record, as before. A store that prepares for such a pass (``pass_queries()``)
is asked through what it prepares: a large ``LocalStore`` builds inverted lists
of its records for the pass (seconds, where its graph takes minutes), in which
every record is found by its own vector. This module finds neighbours only;
judging whether a pair shows the same picture is the caller's.

A graph search can miss a record altogether: HNSW prunes the links into a
tight cluster of near-duplicates (the very records ``duplicates()`` looks
for) until no search reaches them, and on vectors without structure (random
ones) it misses one record in ten at 100,000 and more than half at a million.
A record asked with its own vector must find itself, so one that does not was
not reached: where the store can scan on request (``query_many(...,
exact=True)``), such records are asked again exactly, up to
:data:`EXACT_RETRIES` of them; past that a warning says how many were left to
the graph. No other record's search finds such a record either, so its pairs
are all found from its side: it is given :data:`WIDER` times ``k`` neighbours
(the scan costs the same for any ``k``).
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, runtime_checkable

import numpy as np

from img2img.filters import compile_filter
from img2img.models import Filter, Match, Vector, VectorRecord
from img2img.postings.region_records import is_region
from img2img.protocols import VectorStore

__all__ = [
    "EXACT_RETRIES",
    "WIDER",
    "ManyQueries",
    "PreparesPasses",
    "nearest_neighbours",
]

#: Records a pass may ask again by an exact scan when the graph did not reach
#: them. An exact query costs what about 90 graph searches do at a million
#: records (about 12 at 100,000), and the pass makes one graph search a record:
#: a fixed number keeps the retries near a quarter of the pass's cost at any size.
EXACT_RETRIES = 3_000
_ITSELF = 1.0 - 1e-4
#: How many times ``k`` neighbours a record asked again exactly is given.
WIDER = 3


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


@runtime_checkable
class PreparesPasses(Protocol):
    """A store that prepares for a pass asking every record's neighbours
    (``LocalStore``: inverted lists built for the pass)."""

    def pass_queries(self) -> AbstractContextManager[ManyQueries]: ...


class _ExactRetries:
    """Records the graph did not reach, asked again by an exact scan while the budget lasts."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.left_to_graph = 0

    def retried(
        self,
        records: list[VectorRecord],
        answers: list[list[Match]],
        ask_exactly: Callable[[Vector], list[list[Match]]],
    ) -> set[int]:
        """Replace the answers of records not reached by exact ones; the rows replaced."""
        # Its own vector scores 1 (unit vectors): an answer of only such scores (more
        # identical copies than were asked for) reached it, whichever ids it holds.
        unreached = [
            row
            for row, (record, matches) in enumerate(zip(records, answers, strict=True))
            if all(m.id != record.id for m in matches)
            and not (matches and matches[-1].score >= _ITSELF)
        ]
        retry = unreached[: self.budget]
        self.left_to_graph += len(unreached) - len(retry)
        if retry:
            self.budget -= len(retry)
            exact = ask_exactly(np.stack([records[row].vector for row in retry]))
            for row, matches in zip(retry, exact, strict=True):
                answers[row] = matches
        return set(retry)


def _scans_on_request(asked: object) -> bool:
    try:
        return "exact" in inspect.signature(asked.query_many).parameters  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return False


def nearest_neighbours(
    store: VectorStore,
    *,
    k: int,
    min_score: float,
    filter: Filter | None = None,
    batch_size: int = 1000,
    unreached: set[str] | None = None,
) -> Iterator[tuple[VectorRecord, list[Match]]]:
    """Each record ``filter`` selects, with its ``k`` nearest others scoring ``>= min_score``.

    The store is read ``batch_size`` records at a time; memory holds one page
    and its answers, whatever the store's size. The ids of records asked again
    exactly (in no other record's answer, whatever their score) are added to
    ``unreached`` before they are yielded. A store that prepares for such a pass
    (``pass_queries()``: a ``LocalStore`` builds inverted lists) is asked through
    what it prepares, for as long as the pass lasts.
    """
    opened = store.pass_queries() if isinstance(store, PreparesPasses) else nullcontext(store)
    with opened as asked:
        yield from _nearest(
            store,
            asked,
            k=k,
            min_score=min_score,
            filter=filter,
            batch_size=batch_size,
            unreached=unreached,
        )


def _nearest(
    store: VectorStore,
    asked: object,
    *,
    k: int,
    min_score: float,
    filter: Filter | None,
    batch_size: int,
    unreached: set[str] | None,
) -> Iterator[tuple[VectorRecord, list[Match]]]:
    """:func:`nearest_neighbours`: ``store`` scanned, ``asked`` (the store or what it
    prepared for the pass) asked for neighbours."""
    from threadpoolctl import threadpool_limits

    wanted = compile_filter(filter)
    batched = isinstance(asked, ManyQueries)
    retries = _ExactRetries(EXACT_RETRIES) if batched and _scans_on_request(asked) else None
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
        retried: set[int] = set()
        if batched:
            # Callers may hold BLAS to one thread for verifying; a blocked product
            # of a page of queries is the one place here where BLAS threads pay.
            with threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
                answers = asked.query_many(  # type: ignore[attr-defined]
                    np.stack([record.vector for record in records]),
                    k=ask,
                    filter=filter,
                    min_score=min_score,
                )
                if retries is not None:
                    answers = list(answers)
                    retried = retries.retried(
                        records,
                        answers,
                        lambda rows, ask=ask: asked.query_many(  # type: ignore[attr-defined,misc]
                            rows, k=WIDER * ask, filter=filter, min_score=min_score, exact=True
                        ),
                    )
        else:  # one record at a time: only one answer is held
            answers = (store.query(record.vector, k=ask, filter=filter) for record in records)
        if unreached is not None:
            unreached.update(records[row].id for row in retried)
        for row, (record, matches) in enumerate(zip(records, answers, strict=True)):
            yield (
                record,
                [
                    m
                    for m in matches
                    if m.id != record.id and m.score >= min_score and not is_region(m.metadata)
                ][: WIDER * k if row in retried else k],
            )
    if retries is not None and retries.left_to_graph:
        warnings.warn(
            f"{retries.left_to_graph:,} records were not reached through the store's approximate "
            "index and could not all be looked up exactly: their duplicates may be missed "
            "(a store with index='exact' finds every one)",
            stacklevel=2,
        )
