"""The stored images nearest a query vector: the query's arguments, a score floor, pictures.

``search``, ``search_text``, ``find_postings`` and ``duplicates`` share these, so
``k``, ``filter`` and ``min_score`` mean the same in each and are refused the
same way, before any image is read or embedded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from img2img.arguments import check_whole
from img2img.errors import ConfigurationError
from img2img.filters import compile_filter
from img2img.models import Filter, Match, PictureGroup
from img2img.protocols import VectorStore

if TYPE_CHECKING:
    import numpy.typing as npt

    from img2img.postings.pictures import CandidatePictures

__all__ = ["GROUPED_NEIGHBOURS", "check_min_score", "check_query", "nearest", "nearest_pictures"]

#: Nearest images a grouped search looks through, at the least, to fill ``k`` pictures.
GROUPED_NEIGHBOURS = 50


def check_min_score(min_score: object) -> None:
    """Refuse a ``min_score`` that is neither ``None`` nor a number."""
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, (int, float))
        or math.isnan(min_score)
    ):
        raise ConfigurationError(f"min_score must be a number or None, got {min_score!r}")


def check_query(k: object, filter: Filter | None, min_score: object) -> None:
    """Refuse a bad ``k``, ``filter`` or ``min_score`` with a clear error."""
    check_whole("k", k)
    check_min_score(min_score)
    compile_filter(filter)


def nearest(
    store: VectorStore,
    vector: npt.ArrayLike,
    k: int,
    filter: Filter | None = None,
    min_score: float | None = None,
) -> list[Match]:
    """The ``k`` records nearest ``vector`` (float32, shape ``(dim,)``) that pass
    ``filter``, best first; those scoring under ``min_score`` left out. A hit on
    a region of a stored composite counts as the composite (never as a result of
    its own)."""
    import numpy as np

    from img2img.postings.region_records import to_parents

    query = np.asarray(vector, dtype=np.float32)
    asked = k
    matches = store.query(query, k=asked, filter=filter)
    found = to_parents(store, matches)
    # Regions of stored composites stand for their picture: ask again for more
    # when hits on regions of one picture left fewer than ``k`` pictures.
    while len(found) < k and len(matches) == asked and asked < 8 * k:
        asked *= 2
        matches = store.query(query, k=asked, filter=filter)
        found = to_parents(store, matches)
    matches = found[:k]
    if min_score is not None:
        matches = [m for m in matches if m.score >= min_score]
    return matches


def nearest_pictures(
    store: VectorStore,
    vector: npt.ArrayLike,
    pictures: CandidatePictures,
    *,
    k: int,
    filter: Filter | None = None,
    min_score: float | None = None,
) -> list[PictureGroup]:
    """The ``k`` most alike distinct pictures among the nearest ``max(50, 10 * k)``
    records, each with every posting of it found there (see
    :func:`~img2img.postings.grouping.group_matches`)."""
    from img2img.postings.grouping import group_matches

    matches = nearest(store, vector, max(GROUPED_NEIGHBOURS, 10 * k), filter, min_score)
    records = store.fetch([m.id for m in matches])
    vectors = {i: r.vector for i, r in records.items()}
    return group_matches(matches, vectors, pictures, k=k)
