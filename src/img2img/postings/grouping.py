"""Postings grouped by picture: union-find, and the grouping of a search's results."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from img2img.errors import FetchError, ImageError
from img2img.models import Evidence, Match, PictureGroup, Posting, Relation, Vector
from img2img.postings.pictures import CandidatePictures
from img2img.postings.verify import (
    DEFAULT_THRESHOLDS,
    QueryFeatures,
    Thresholds,
    one_blas_thread,
    verify_features,
)

__all__ = ["GROUP_MIN_COSINE", "UnionFind", "features_of", "group_matches", "link"]

#: Two results are compared pixel by pixel only when their embeddings are at
#: least this close: every edited copy in the benchmark scored above it against
#: its original, and skipping the rest keeps grouping cheap.
GROUP_MIN_COSINE = 0.3


class UnionFind:
    """Disjoint sets of ids, for "these postings show one picture"; memory grows
    only with the ids that were linked."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        """The id standing for ``item``'s set (``item`` itself when never linked)."""
        root = item
        while (parent := self._parent.get(root, root)) != root:
            root = parent
        while item != root:  # path compression: later finds are one step
            self._parent[item], item = root, self._parent.get(item, root)
        return root

    def union(self, a: str, b: str) -> None:
        """Put ``a`` and ``b`` in one set."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self._parent[max(root_a, root_b)] = min(root_a, root_b)

    def same(self, a: str, b: str) -> bool:
        return self.find(a) == self.find(b)

    def groups(self) -> Iterator[list[str]]:
        """Every set of two or more linked ids, members sorted."""
        members: dict[str, list[str]] = {}
        for item in list(self._parent):
            members.setdefault(self.find(item), []).append(item)
        for root, items in members.items():
            if root not in items:
                items.append(root)
            yield sorted(items)


def link(
    first: Match,
    first_features: QueryFeatures | None,
    other: Match,
    pictures: CandidatePictures,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[Relation, Evidence | None] | None:
    """How ``other`` relates to ``first``: ``exact``, a verified ``copy``, or ``None``
    (a different picture, or one whose pixels cannot be had)."""
    digest = first.metadata.get("sha256")
    if isinstance(digest, str) and digest == other.metadata.get("sha256"):
        return "exact", None
    if first_features is None:
        return None
    try:
        features = pictures.features(other.id, other.image_url)
    except (FetchError, ImageError):
        return None
    result = verify_features(first_features, features, thresholds=thresholds)
    return ("copy", result.evidence) if result.same else None


@dataclass
class _Group:
    first: Match
    features: QueryFeatures | None
    vector: Vector | None
    members: list[Posting] = field(default_factory=list)


def features_of(match: Match, pictures: CandidatePictures) -> QueryFeatures | None:
    """The features of ``match``'s picture as a query, or ``None`` when they cannot be had."""
    try:
        return QueryFeatures.of(pictures.features(match.id, match.image_url))
    except (FetchError, ImageError):
        return None


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
            relation = link(
                group.first, group.features if close else None, match, pictures, thresholds
            )
            if relation is not None:
                group.members.append(Posting.from_match(match, *relation))
                joined = True
                break
        if not joined and len(groups) < k:
            group = _Group(match, features_of(match, pictures), vector)
            group.members.append(Posting.from_match(match, "exact"))
            groups.append(group)
    return [PictureGroup(tuple(g.members), score=g.first.score) for g in groups]
