"""A grouped search's groups, each told apart as the query's picture or another one.

Grouping compares results with each other; this compares each group's leading
posting with the query itself, so a group says ``exact`` only when it holds the
query's own bytes, ``copy`` when the verifier finds the query's picture in it,
and ``alike`` otherwise (the query's pixels undescribable, or the candidate's
not to be had, count as another picture).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from img2img.errors import FetchError, ImageError
from img2img.models import Evidence, PictureGroup, Relation
from img2img.postings.judge import DEFAULT_THRESHOLDS, Judge, Picture, Thresholds, one_blas_thread

if TYPE_CHECKING:
    from PIL import Image

    from img2img.postings.pictures import CandidatePictures

__all__ = ["relate_to_query"]


def _relation(
    group: PictureGroup, judge: Judge, pictures: CandidatePictures
) -> tuple[Relation, Evidence | None]:
    first = group.picture
    try:
        judgement = judge.judge(Picture.stored(first.id, first.metadata, pictures, first.image_url))
    except (FetchError, ImageError):
        return "alike", None
    if judgement.relation is None:
        return "alike", None
    return judgement.relation, judgement.evidence


def relate_to_query(
    groups: Sequence[PictureGroup],
    image: Image.Image,
    sha256: str | None,
    pictures: CandidatePictures,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[PictureGroup]:
    """``groups`` with each leading posting's relation (and evidence) to the query
    ``image`` (``sha256``: of its bytes, when known), and ``query_relation`` set;
    decided by the one judge of :mod:`img2img.postings.judge`."""
    if not groups:
        return []
    judge = Judge(Picture(image, sha256), thresholds=thresholds)
    related: list[PictureGroup] = []
    with one_blas_thread():
        for group in groups:
            relation, evidence = _relation(group, judge, pictures)
            first = replace(group.picture, relation=relation, evidence=evidence)
            related.append(
                replace(group, postings=(first, *group.postings[1:]), query_relation=relation)
            )
    return related
