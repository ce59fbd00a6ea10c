"""A grouped search's groups, each told apart as the query's picture or another one.

Grouping compares results with each other; this compares each group's leading
posting with the query itself, so a group says ``exact`` only when it holds the
query's own bytes, ``copy`` when the verifier finds the query's picture in it,
and ``alike`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from img2img.errors import FetchError, ImageError
from img2img.models import Evidence, PictureGroup, Relation
from img2img.postings.verify import (
    DEFAULT_THRESHOLDS,
    QueryFeatures,
    Thresholds,
    one_blas_thread,
    verify_features,
)

if TYPE_CHECKING:
    from PIL import Image

    from img2img.postings.pictures import CandidatePictures

__all__ = ["relate_to_query"]


def _relation(
    group: PictureGroup,
    query: QueryFeatures | None,
    sha256: str | None,
    pictures: CandidatePictures,
    thresholds: Thresholds,
) -> tuple[Relation, Evidence | None]:
    first = group.picture
    if sha256 is not None and first.metadata.get("sha256") == sha256:
        return "exact", None
    if query is None:
        return "alike", None
    try:
        features = pictures.features(first.id, first.image_url)
    except (FetchError, ImageError):
        return "alike", None
    result = verify_features(query, features, thresholds=thresholds)
    return ("copy", result.evidence) if result.same else ("alike", None)


def relate_to_query(
    groups: Sequence[PictureGroup],
    image: Image.Image,
    sha256: str | None,
    pictures: CandidatePictures,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[PictureGroup]:
    """``groups`` with each leading posting's relation (and evidence) to the query
    ``image`` (``sha256``: of its bytes, when known), and ``query_relation`` set."""
    if not groups:
        return []
    try:
        query: QueryFeatures | None = QueryFeatures.of(image)
    except ImageError:
        query = None
    related: list[PictureGroup] = []
    with one_blas_thread():
        for group in groups:
            relation, evidence = _relation(group, query, sha256, pictures, thresholds)
            first = replace(group.picture, relation=relation, evidence=evidence)
            related.append(
                replace(group, postings=(first, *group.postings[1:]), query_relation=relation)
            )
    return related
