"""Every group of postings of one picture in a whole store.

One pass over the store (``VectorStore.scan``, a bounded list at a time) finds
each record's nearest neighbours (a page at a time where the store can:
:mod:`img2img.postings.neighbours`) and links those verified to be the same
picture; memory holds the links and one number per record with neighbours (to
judge a mutual pair once), not the store. Once the pass is over, the groups
(:class:`~img2img.postings.link_graph.LinkGraph`: stars around the records with
the most links, so a wrong link does not chain two pictures into one) are read
back from the store one at a time, their members judged on the same threads a
few groups ahead, and yielded.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from img2img.models import Filter, Match, PictureGroup, Posting, VectorRecord
from img2img.postings.grouping import GROUP_MIN_COSINE, judge_of, relation_to
from img2img.postings.judge import DEFAULT_THRESHOLDS, Thresholds, one_blas_thread
from img2img.postings.judged_pairs import JudgedPairs
from img2img.postings.link_graph import LinkGraph
from img2img.postings.neighbours import nearest_neighbours
from img2img.postings.pictures import CandidatePictures
from img2img.protocols import VectorStore

__all__ = ["WORKERS", "find_duplicates", "in_order", "neighbours_to_judge"]

T = TypeVar("T")
R = TypeVar("R")

#: Threads judging records at once (OpenCV and numpy release the GIL).
WORKERS = min(4, os.cpu_count() or 1)
#: Records queued for each thread ahead of the one awaited.
CHUNK = 16


def _as_match(record: VectorRecord, score: float = 1.0) -> Match:
    return Match.from_metadata(record.id, score, record.metadata)


def _pixels(match: Match) -> int:
    width, height = match.metadata.get("width"), match.metadata.get("height")
    if isinstance(width, (int, float)) and isinstance(height, (int, float)):
        return int(width * height)
    return 0


def neighbours_to_judge(
    store: VectorStore,
    *,
    k: int,
    min_score: float,
    filter: Filter | None = None,
    batch_size: int = 1000,
) -> Iterator[tuple[VectorRecord, list[Match]]]:
    """Each record of the store with the neighbours a pass judges it against, in the
    scan's order: its ``k`` nearest scoring at least ``min_score``, less those whose
    pair was judged from their side (:class:`~img2img.postings.judged_pairs.JudgedPairs`);
    records left with none are skipped."""
    judged = JudgedPairs(k=k)
    unreached: set[str] = set()  # by the store's index: their pairs are all judged
    found = nearest_neighbours(
        store,
        k=k,
        min_score=min_score,
        filter=filter,
        batch_size=batch_size,
        unreached=unreached,
    )
    for record, nearest in found:
        fresh = judged.fresh(record.id, nearest, unreached=record.id in unreached)
        if fresh:
            yield record, fresh


def _link_neighbours(
    store: VectorStore,
    pictures: CandidatePictures,
    *,
    k: int,
    min_score: float,
    filter: Filter | None,
    batch_size: int,
    thresholds: Thresholds,
    workers: int,
) -> LinkGraph:
    links = LinkGraph()
    lock = threading.Lock()  # the links, shared by the judging threads

    def link(record: VectorRecord, neighbours: list[Match]) -> None:
        judge = judge_of(_as_match(record), pictures, thresholds)
        for neighbour in neighbours:
            with lock:
                if links.linked(neighbour.id, record.id):
                    continue
            # A composite and one of its pictures are related, not duplicates.
            if relation_to(judge, neighbour, pictures).whole:
                with lock:
                    links.add(record.id, neighbour.id)

    found = neighbours_to_judge(
        store, k=k, min_score=min_score, filter=filter, batch_size=batch_size
    )
    with ThreadPoolExecutor(workers, thread_name_prefix="img2img-duplicates") as pool:
        # The threads are kept fed, a few records each ahead: memory holds those, not
        # the store's lists. (Handing out a fixed chunk and waiting for all of it left
        # one core idle while the chunk's slowest record finished.)
        for _ in in_order(pool, lambda pair: link(*pair), found, ahead=CHUNK * workers):
            pass
    return links


def find_duplicates(
    store: VectorStore,
    pictures: CandidatePictures,
    *,
    k: int = 10,
    min_score: float = GROUP_MIN_COSINE,
    filter: Filter | None = None,
    batch_size: int = 1000,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    workers: int = WORKERS,
) -> Iterator[PictureGroup]:
    """Groups of two or more records showing one picture, lazily.

    Each record is compared with its ``k`` nearest neighbours scoring at least
    ``min_score``. In each group the largest image comes first; the others'
    relation and evidence compare them with it (or, for a posting that was
    linked through another, with that one's evidence missing: ``None``).
    A pair that is each other's neighbour is judged once
    (:class:`~img2img.postings.judged_pairs.JudgedPairs`); records are judged
    on ``workers`` threads, and so are the groups' members against their first
    (a few groups ahead of the caller; BLAS libraries run on one thread each
    until the last group is yielded, see
    :func:`~img2img.postings.verify.one_blas_thread`). A group is a star of
    links around one record (see :mod:`~img2img.postings.link_graph`): a wrong
    link between two pictures' postings moves one record at most, and never
    joins the two.
    """
    workers = max(1, workers)
    with one_blas_thread():
        links = _link_neighbours(
            store,
            pictures,
            k=k,
            min_score=min_score,
            filter=filter,
            batch_size=batch_size,
            thresholds=thresholds,
            workers=workers,
        )

    def members(ids: list[str]) -> list[Match]:
        records = store.fetch(ids)
        return sorted(
            (_as_match(records[i]) for i in ids if i in records),
            key=lambda m: (-_pixels(m), m.id),
        )

    def laid_out(matches: list[Match]) -> PictureGroup | None:
        return _group(matches, pictures, thresholds) if len(matches) >= 2 else None

    # Each group's members are judged against its first again (in that direction),
    # on the same threads as the links, a few groups ahead of the caller.
    with (
        one_blas_thread(),
        ThreadPoolExecutor(workers, thread_name_prefix="img2img-duplicates") as pool,
    ):
        for group in in_order(pool, laid_out, map(members, links.groups()), ahead=workers):
            if group is not None:
                yield group


def in_order(
    pool: ThreadPoolExecutor,
    function: Callable[[T], R],
    items: Iterable[T],
    *,
    ahead: int,
) -> Iterator[R]:
    """``function`` of each of ``items`` run on ``pool``, yielded in order, with at
    most ``ahead`` items in flight beyond the one awaited (``Executor.map`` would
    submit every item at once)."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _group(
    matches: list[Match], pictures: CandidatePictures, thresholds: Thresholds
) -> PictureGroup:
    """``matches[0]`` first, the others as compared with it."""
    first = matches[0]
    judge = judge_of(first, pictures, thresholds)
    postings = [Posting.from_match(first, "exact")]
    for other in matches[1:]:
        judgement = relation_to(judge, other, pictures)
        postings.append(
            judgement.posting(other)
            if judgement.same
            # Linked through another member, not directly comparable with the first.
            else Posting.from_match(other, "copy")
        )
    return PictureGroup(tuple(postings))
