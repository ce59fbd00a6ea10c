"""Every group of postings of one picture in a whole store.

One pass over the store (``VectorStore.scan``, a bounded list at a time) finds
each record's nearest neighbours (a page at a time where the store can:
:mod:`img2img.postings.neighbours`) and links those verified to be the same
picture; memory holds the links and one number per record with neighbours (to
judge a mutual pair once), not the store. Once the pass is over, the groups
(:class:`~img2img.postings.link_graph.LinkGraph`: stars around the records with
the most links, so a wrong link does not chain two pictures into one) are read
back from the store one at a time and yielded.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from img2img.models import Filter, Match, PictureGroup, Posting, VectorRecord
from img2img.postings.grouping import GROUP_MIN_COSINE, judge_of, relation_to
from img2img.postings.judge import DEFAULT_THRESHOLDS, Thresholds, one_blas_thread
from img2img.postings.judged_pairs import JudgedPairs
from img2img.postings.link_graph import LinkGraph
from img2img.postings.neighbours import nearest_neighbours
from img2img.postings.pictures import CandidatePictures
from img2img.protocols import VectorStore

__all__ = ["WORKERS", "find_duplicates"]

#: Threads judging records at once (OpenCV and numpy release the GIL).
WORKERS = min(4, os.cpu_count() or 1)
#: Records each thread is handed at a time.
CHUNK = 16


def _as_match(record: VectorRecord, score: float = 1.0) -> Match:
    return Match.from_metadata(record.id, score, record.metadata)


def _pixels(match: Match) -> int:
    width, height = match.metadata.get("width"), match.metadata.get("height")
    if isinstance(width, (int, float)) and isinstance(height, (int, float)):
        return int(width * height)
    return 0


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
    judged = JudgedPairs(k=k)

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

    unreached: set[str] = set()  # by the store's index: their pairs are all judged
    found = nearest_neighbours(
        store,
        k=k,
        min_score=min_score,
        filter=filter,
        batch_size=batch_size,
        unreached=unreached,
    )
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="img2img-duplicates") as pool:
        # A few records per thread at a time: memory holds those, not the store's lists.
        while chunk := list(itertools.islice(found, CHUNK * max(1, workers))):
            fresh = [
                (record, judged.fresh(record.id, nearest, unreached=record.id in unreached))
                for record, nearest in chunk
            ]
            list(pool.map(lambda pair: link(*pair), [p for p in fresh if p[1]]))
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
    on ``workers`` threads. A group is a star of links around one record (see
    :mod:`~img2img.postings.link_graph`): a wrong link between two pictures'
    postings moves one record at most, and never joins the two.
    """
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
    for ids in links.groups():
        records = store.fetch(ids)
        matches = sorted(
            (_as_match(records[i]) for i in ids if i in records),
            key=lambda m: (-_pixels(m), m.id),
        )
        if len(matches) < 2:
            continue
        with one_blas_thread():
            group = _group(matches, pictures, thresholds)
        yield group


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
