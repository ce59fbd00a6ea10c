"""Postings grouped by picture: union-find, and the grouping of a search's results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from img2img.errors import FetchError, ImageError
from img2img.models import Match, PictureGroup, Posting, Vector
from img2img.postings.judge import (
    DEFAULT_THRESHOLDS,
    Judge,
    Judgement,
    Picture,
    Thresholds,
    one_blas_thread,
)
from img2img.postings.pictures import CandidatePictures

__all__ = ["GROUP_MIN_COSINE", "group_matches", "judge_of", "relation_to"]

#: Two results are compared pixel by pixel only when their embeddings are at
#: least this close: every edited copy in the benchmark scored above it against
#: its original, and skipping the rest keeps grouping cheap.
GROUP_MIN_COSINE = 0.3


@dataclass
class _Group:
    first: Match
    judge: Judge
    vector: Vector | None
    members: list[Posting] = field(default_factory=list)


def judge_of(first: Match, pictures: CandidatePictures, thresholds: Thresholds) -> Judge:
    """A judge of other postings against ``first``'s picture (its bytes, and its pixels
    from ``pictures``; by bytes only when the pixels cannot be had)."""
    return Judge(Picture.of_match(first, pictures), thresholds=thresholds)


def relation_to(
    judge: Judge, other: Match, pictures: CandidatePictures, *, pixels: bool = True
) -> Judgement:
    """How ``other`` relates to the judge's picture; by bytes only unless ``pixels``.
    A picture whose pixels cannot be had is not the same."""
    picture = Picture.of_match(other, pictures)
    if not pixels:
        picture = replace(picture, pixels=None)
    try:
        return judge.judge(picture)
    except (FetchError, ImageError) as exc:
        return Judgement(None, reason=str(exc))


def group_matches(
    matches: Sequence[Match],
    vectors: Mapping[str, Vector],
    pictures: CandidatePictures,
    *,
    k: int,
    min_cosine: float = GROUP_MIN_COSINE,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[PictureGroup]:
    """The first ``k`` distinct pictures among ``matches`` (best first), each with its postings.

    Each match joins the first group whose leading posting it is verified to
    copy (compared only when their ``vectors`` are ``min_cosine`` close, or
    their bytes are equal); otherwise it starts a group, while fewer than ``k``
    exist. A match whose pixels cannot be had stands alone.
    """
    with one_blas_thread():
        return _group(matches, vectors, pictures, k=k, min_cosine=min_cosine, thresholds=thresholds)


def _group(
    matches: Sequence[Match],
    vectors: Mapping[str, Vector],
    pictures: CandidatePictures,
    *,
    k: int,
    min_cosine: float,
    thresholds: Thresholds,
) -> list[PictureGroup]:
    groups: list[_Group] = []
    for match in sorted(matches, key=lambda m: -m.score):
        vector = vectors.get(match.id)
        joined = False
        for group in groups:
            close = (
                vector is not None
                and group.vector is not None
                and float(np.dot(vector, group.vector)) >= min_cosine
            )
            judgement = relation_to(group.judge, match, pictures, pixels=close)
            if judgement.whole:  # a composite is not a posting of one of its pictures
                group.members.append(judgement.posting(match))
                joined = True
                break
        if not joined and len(groups) < k:
            group = _Group(match, judge_of(match, pictures, thresholds), vector)
            group.members.append(Posting.from_match(match, "exact"))
            groups.append(group)
    return [PictureGroup(tuple(g.members), score=g.first.score) for g in groups]
