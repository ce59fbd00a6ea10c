"""The candidates a query is verified against: its nearest pictures, and its regions' nearest.

A query that is a collage or holds a picture-in-picture is, as a whole, near
none of the pictures it shows; each of its regions
(:func:`~img2img.postings.regions.query_regions`) is embedded and searched too,
and its few nearest pictures join the whole query's shortlist, each marked with
the regions that found it so the judge can verify with them: those the region is
nearer to than the whole query is (:data:`MARGIN`), since a tile of a plain photo
finds what the photo finds, and each hit it adds costs a verification. Hits on regions of
stored composites (:mod:`~img2img.postings.region_records`) count for the
picture they belong to. Searches go to the store in one call where it answers
many at once (``query_many``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from img2img.models import Filter, Match, Vector
from img2img.postings.neighbours import ManyQueries
from img2img.postings.region_records import to_parents
from img2img.postings.regions import Box, crop_regions, query_regions, split_regions
from img2img.protocols import Embedder, VectorStore

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_PLAN", "MARGIN", "REGION_K", "RegionPlan", "Shortlist", "shortlist"]

#: Nearest pictures each region of the query adds. A picture reposted in many
#: composites is found through theirs first: in benchmarks/reposts.py's store at
#: ``--every 2`` (33 held-out pictures, each inside 5-9 stored composites) a tile's
#: original came 6th to 12th, after the composites holding it, and 5 missed 41 of
#: the 66 collage queries' originals where 12 miss 11.
REGION_K = 12
#: Regions of the query the judge may verify one picture with, nearest first.
MAX_TRIED = 2
#: Whether tiles (not only the cells of a split query) are offered to the judge to
#: verify with.
TRY_TILES = True
#: How much nearer a region must be to a picture than the whole query is for the hit
#: to count. A collage's tile or an inset is far nearer its original than the whole
#: composite is (by 0.06-0.58 on the benchmark's tuning third, at least 0.09 for each
#: query's best hit); a tile of a plain photo finds what the photo finds, or pictures
#: no nearer to the tile than to the photo: two thirds of such hits go, and with them
#: most of the fits on tiles.
MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """How a query's regions are searched, and which of their hits the judge verifies with them."""

    #: Nearest pictures each region adds to the shortlist.
    region_k: int = REGION_K
    #: Regions the judge may verify one picture with, nearest first.
    max_tried: int = MAX_TRIED
    #: Whether tiles (not only the cells of a split query) are verified with.
    try_tiles: bool = TRY_TILES
    #: A region's hit counts (joins the shortlist, is verified with the region) only
    #: when the region is nearer to it than the whole query is, by at least this much
    #: (cosine); ``None``: every hit counts. See :data:`MARGIN`.
    margin: float | None = MARGIN


DEFAULT_PLAN = RegionPlan()


@dataclass(frozen=True, slots=True)
class Shortlist:
    """The pictures to verify, whole-query hits first, then those only regions found;
    ``regions`` maps a picture's id to the query regions that found it."""

    matches: list[Match]
    regions: dict[str, tuple[Box, ...]] = field(default_factory=dict)
    boxes: tuple[Box, ...] = ()


def _search(store: VectorStore, rows: Vector, k: int, filter: Filter | None) -> list[list[Match]]:
    if isinstance(store, ManyQueries) and len(rows) > 1:
        return store.query_many(rows, k=k, filter=filter)
    return [store.query(row, k=k, filter=filter) for row in rows]


def shortlist(
    image: Image.Image,
    embedder: Embedder,
    store: VectorStore,
    *,
    k: int,
    filter: Filter | None = None,
    regions: bool = True,
    region_k: int | None = None,
    plan: RegionPlan | None = None,
) -> Shortlist:
    """The ``k`` pictures nearest ``image``, plus the ``region_k`` nearest each of its
    regions (when ``regions``; by default ``plan.region_k``) that are nearer to the
    region than to the whole query (``plan.margin``), embedded in one call and
    searched together. ``plan`` defaults to :data:`DEFAULT_PLAN`, read at each call."""
    plan = plan or DEFAULT_PLAN
    boxes = query_regions(image) if regions else []
    tried = boxes if plan.try_tiles else split_regions(image) if len(boxes) < 13 else []
    vectors = embedder.embed_images([image, *crop_regions(image, boxes)])
    rows = np.asarray(vectors, dtype=np.float32)
    # Region hits may stand for the same picture: ask for a little more than is kept.
    answers = _search(store, rows, k, filter) if boxes else [_search(store, rows[:1], k, filter)[0]]
    matches = to_parents(store, answers[0])[:k]
    seen = {m.id for m in matches}
    whole = {m.id: m.score for m in matches}
    # A picture outside the whole query's k nearest is at most as near as the k-th.
    floor = matches[-1].score if len(matches) >= k else -np.inf
    found: dict[str, list[tuple[float, Box]]] = {}
    extra: dict[str, Match] = {}
    for box, answer in zip(boxes, answers[1:], strict=True):
        for match in to_parents(store, answer)[: plan.region_k if region_k is None else region_k]:
            if plan.margin is not None and match.score - whole.get(match.id, floor) < plan.margin:
                continue  # no nearer to the region than to the whole query
            if box in tried:
                found.setdefault(match.id, []).append((match.score, box))
            if match.id not in seen and (
                match.id not in extra or match.score > extra[match.id].score
            ):
                extra[match.id] = match
    added = sorted(extra.values(), key=lambda m: -m.score)
    # Each picture's regions nearest first, and only the nearest few: the judge cuts
    # and describes each region it tries.
    nearest = {
        i: tuple(box for _, box in sorted(hits, key=lambda hit: -hit[0])[: plan.max_tried])
        for i, hits in found.items()
    }
    return Shortlist([*matches, *added], nearest, tuple(boxes))
