"""The best ``k`` slots for one query or many (exact scans, approximate candidates), as matches.

Every answer's scores are exact float32 dot products with the store's own
vectors: the approximate path only proposes candidates, which are then
re-ranked exactly, so a quantised graph costs recall, never score accuracy.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from img2img.models import Match
from img2img.stores.local.mapped import MappedVectors
from img2img.stores.local.matrix import SlotMatrix
from img2img.stores.local.schema import rows_in
from img2img.stores.search import top_k

__all__ = [
    "CandidateIndex",
    "Ranked",
    "approximate_top",
    "exact_top",
    "exact_top_many",
    "matches_of",
    "rank",
]

Mask = npt.NDArray[np.bool_]
Slots = npt.NDArray[np.intp]
Scores = npt.NDArray[np.float32]
#: ``(slots, scores)``, best first.
Ranked = tuple[Slots, Scores]
#: The vectors held in memory, or read from mapped files (scanned quantised).
Vectors = SlotMatrix | MappedVectors


class CandidateIndex(Protocol):
    """What proposes candidates to re-rank: the store's HNSW graph, or inverted lists
    built for a pass (:mod:`img2img.stores.local.lists`)."""

    @property
    def reach(self) -> int:
        """The most candidates one search can give."""
        ...

    def search(self, queries: Scores, count: int) -> Slots:
        """The ``count`` best slots of each query row, ``(n, count)``, -1 where fewer."""
        ...


#: Candidates asked of the graph per result wanted, before filtering: the exact
#: re-rank then picks the best ``k`` of them, which lifts recall for little cost.
OVERFETCH = 3
_MIN_CANDIDATES = 32
#: Below this many selected vectors a filtered query scans them exactly
#: (a few milliseconds): cheaper, and exact, than over-fetching from the graph.
EXACT_BELOW = 50_000
#: Query rows per matrix product in a batch search: 256 x 32k chunk rows = 32 MB of scores.
_QUERY_BLOCK = 256


def exact_top(matrix: Vectors, slots: int, mask: Mask | None, query: Scores, k: int) -> Ranked:
    """The best ``k`` of slots ``0 .. slots-1`` (those in ``mask``, if given), scanned.

    From quantised rows, the best ``3k`` (at least 32) are re-ranked with
    their float32 rows, so the scores returned are exact.
    """
    if not matrix.exact_scores:
        candidates, _ = _scan_top(matrix, slots, mask, query, _widened(k))
        return _rerank(matrix, candidates, query, k)
    return _scan_top(matrix, slots, mask, query, k)


def _widened(k: int) -> int:
    return max(_MIN_CANDIDATES, k * OVERFETCH)


def _rerank(matrix: Vectors, candidates: Slots, query: Scores, k: int) -> Ranked:
    """The best ``k`` of ``candidates`` by their float32 rows; equal scores: lower slot first."""
    candidates = np.sort(candidates)
    scores = (matrix.get(candidates) @ query).astype(np.float32, copy=False)
    best = top_k(scores, k)
    return candidates[best], scores[best]


def _scan_top(matrix: Vectors, slots: int, mask: Mask | None, query: Scores, k: int) -> Ranked:
    if mask is None:
        scores = matrix.scores(query, slots)
        best = top_k(scores, k)
        return best, scores[best]
    rows = np.flatnonzero(mask)
    # Gathering costs about 4x scanning per row: worth it below a quarter.
    if rows.shape[0] * 4 < slots:
        scores = matrix.scores_of(rows, query)
    else:
        scores = matrix.scores(query, slots)[rows]
    best = top_k(scores, k)
    return rows[best], scores[best]


def exact_top_many(
    matrix: Vectors, slots: int, mask: Mask, queries: Scores, k: int
) -> list[Ranked]:
    """:func:`exact_top` for every row of ``queries`` ``(n, dim)``, by blocked matrix products.

    One product of a block of queries with a chunk of vectors runs at BLAS
    speed: many times the throughput of one query at a time. From quantised
    rows, each query's best ``3k`` are re-ranked as in :func:`exact_top`.
    """
    if not matrix.exact_scores:
        wide = _scan_top_many(matrix, slots, mask, queries, _widened(k))
        return [
            _rerank(matrix, found, query, k)
            for (found, _), query in zip(wide, queries, strict=True)
        ]
    return _scan_top_many(matrix, slots, mask, queries, k)


def _scan_top_many(
    matrix: Vectors, slots: int, mask: Mask, queries: Scores, k: int
) -> list[Ranked]:
    k = min(k, int(np.count_nonzero(mask)))
    out: list[Ranked] = []
    for first in range(0, queries.shape[0], _QUERY_BLOCK):
        block = np.ascontiguousarray(queries[first : first + _QUERY_BLOCK], dtype=np.float32)
        best_slots = np.zeros((block.shape[0], 0), dtype=np.intp)
        best_scores = np.zeros((block.shape[0], 0), dtype=np.float32)
        for start, rows in matrix.pieces(slots):
            scores = block @ rows.T
            scores[:, ~mask[start : start + rows.shape[0]]] = -np.inf
            keep = min(k, scores.shape[1])
            if keep < scores.shape[1]:
                part = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
            else:
                part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
            best_slots = np.concatenate([best_slots, part + start], axis=1)
            best_scores = np.concatenate(
                [best_scores, np.take_along_axis(scores, part, axis=1)], axis=1
            )
            if best_slots.shape[1] > 4 * k:  # merge now and then, so memory stays small
                best_slots, best_scores = _keep_best(best_slots, best_scores, k)
        best_slots, best_scores = _keep_best(best_slots, best_scores, k)
        out += list(zip(best_slots, best_scores, strict=True))
    return out


def _keep_best(slots: Slots, scores: Scores, k: int) -> tuple[Slots, Scores]:
    """Each row's ``k`` best, best first (equal scores: lower slot first)."""
    order = np.lexsort((slots, -scores), axis=1)[:, :k]
    return np.take_along_axis(slots, order, axis=1), np.take_along_axis(scores, order, axis=1)


def approximate_top(
    index: CandidateIndex,
    matrix: Vectors,
    live: int,
    mask: Mask | None,
    selected: int,
    queries: Scores,
    k: int,
) -> list[Ranked | None]:
    """Each query's best ``k`` among ``mask`` (``selected`` of ``live`` vectors), from the graph.

    A filter is applied as Pinecone applies it, to the candidates: the graph is
    asked for ``k`` over the fraction selected, times :data:`OVERFETCH`, and
    four times more while too few pass. ``None`` for a query that would need
    most of the store: the caller scans exactly instead.
    """
    fraction = selected / live if live else 1.0
    count = max(_MIN_CANDIDATES, math.ceil(k * OVERFETCH / max(fraction, 1e-9)))
    out: list[Ranked | None] = [None] * queries.shape[0]
    waiting = np.arange(queries.shape[0])
    reach = min(live, index.reach)
    while waiting.shape[0]:
        asked = min(count, reach)
        found = index.search(queries[waiting], asked)
        if mask is None and asked >= k and bool((found >= 0).all()):
            _rerank_all(matrix, queries, waiting, found, k, out)
            break
        short = []
        for row, candidates in zip(waiting.tolist(), found, strict=True):
            candidates = np.sort(candidates[candidates >= 0])
            if mask is not None:
                candidates = candidates[mask[candidates]]
            if candidates.shape[0] < min(k, selected):
                short.append(row)
                continue
            scores = matrix.get(candidates) @ queries[row]
            best = top_k(scores.astype(np.float32, copy=False), k)
            out[row] = (candidates[best], scores[best])
        waiting = np.asarray(short, dtype=np.intp)
        if asked == reach:
            break  # the index gave all it can: the rest is the exact scan's
        count *= 4
    return out


def _rerank_all(
    matrix: Vectors,
    queries: Scores,
    rows: Slots,
    found: Slots,
    k: int,
    out: list[Ranked | None],
) -> None:
    """Re-rank every row's full set of candidates exactly, a block of rows per product.

    The common case (no filter, the graph gave all it was asked for), done
    without a Python step per query: the candidates' vectors are gathered
    and scored in one batched product.
    """
    for first in range(0, rows.shape[0], _QUERY_BLOCK):
        block, candidates = rows[first : first + _QUERY_BLOCK], found[first : first + _QUERY_BLOCK]
        vectors = matrix.get(candidates.reshape(-1)).reshape(*candidates.shape, -1)
        scores = np.matmul(vectors, queries[block][:, :, None])[:, :, 0]
        order = np.lexsort((candidates, -scores), axis=1)[:, :k]  # equal scores: lower slot first
        slots = np.take_along_axis(candidates, order, axis=1)
        best = np.take_along_axis(scores, order, axis=1)
        for i, row in enumerate(block.tolist()):
            out[row] = (slots[i], best[i])


def rank(
    queries: Scores,
    k: int,
    *,
    matrix: Vectors,
    live: Mask,
    mask: Mask | None,
    index: CandidateIndex | None,
    many: bool,
) -> list[Ranked]:
    """Each query row's best ``k`` slots among ``live`` (and ``mask``, a filter's, if given).

    Through ``index`` (the graph, or a pass's inverted lists) when there is one;
    a query it cannot answer (it would need most of the store) and every query
    without one are scanned exactly: one at a time, or by blocked matrix
    products when ``many``.
    """
    selected = int(np.count_nonzero(live if mask is None else mask))
    if selected == 0:
        return [(np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32))] * len(queries)
    count = int(np.count_nonzero(live))
    # Scanning skips nothing when every slot is live: no mask to apply.
    wanted = mask if mask is not None else (None if count == live.shape[0] else live)
    found: list[Ranked | None] = [None] * len(queries)
    if index is not None:
        # The index holds live slots only (or is given their mask): only ``mask`` is applied.
        found = approximate_top(index, matrix, count, mask, selected, queries, k)
    missing = [row for row, answer in enumerate(found) if answer is None]
    if many and missing:
        every = wanted if wanted is not None else live
        answers = exact_top_many(matrix, live.shape[0], every, queries[missing], k)
        for row, answer in zip(missing, answers, strict=True):
            found[row] = answer
    for row in missing if not many else ():
        found[row] = exact_top(matrix, live.shape[0], wanted, queries[row], k)
    return [answer for answer in found if answer is not None]


def matches_of(
    con: sqlite3.Connection, ranked: list[Ranked], min_score: float | None = None
) -> list[list[Match]]:
    """Ranked slots as matches (those scoring ``>= min_score``), ids and metadata read at once."""
    if min_score is not None:
        ranked = [
            (slots[scores >= min_score], scores[scores >= min_score]) for slots, scores in ranked
        ]
    wanted = sorted({slot for slots, _ in ranked for slot in slots.tolist()})
    found = {
        slot: (record_id, text)
        for slot, record_id, text in rows_in(
            con, "SELECT slot, id, metadata FROM records WHERE slot IN ({})", wanted
        )
    }
    parsed: dict[int, Any] = {}
    out = []
    for slots, scores in ranked:
        matches = []
        for slot, score in zip(slots.tolist(), scores.tolist(), strict=True):
            record_id, text = found[slot]
            if slot not in parsed:
                parsed[slot] = json.loads(text)
            matches.append(Match.from_metadata(record_id, score, parsed[slot]))
        out.append(matches)
    return out
