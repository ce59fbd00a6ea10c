"""Is the candidate the same picture as the query? Local features and one geometric fit.

A copy of a picture (resized, re-encoded, cropped, rotated, recoloured, with text
or a border added, mirrored) relates to its original by a *similarity*: rotation,
uniform scale and shift, after an optional left-right flip. So the verifier
matches SIFT keypoints (Lowe's ratio test on RootSIFT descriptors), fits a
similarity with RANSAC (OpenCV's ``estimateAffinePartial2D``) and accepts when
the fit is

- **supported**: at least :attr:`Thresholds.min_inliers` keypoints agree with it;
- **tight**: the agreeing keypoints land within a fraction of a pixel of where the
  fit puts them (:attr:`Thresholds.max_residual`);
- **broad**: they span a good part of the area the two frames share
  (:attr:`Thresholds.min_coverage`).

Inliers alone are not enough: two photos of one scene from nearby viewpoints (a
stereo pair, a facade shot twice) share many keypoints, but with parallax no
single similarity fits them all tightly across the frame. The thresholds were
chosen on one part of the benchmark's photos and checked on the rest (see
``docs/postings.md``). A mirrored copy is verified with the flipped query's
features (SIFT is not mirror-symmetric).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from img2img.models import Evidence
from img2img.postings.features import LocalFeatures, extract_features, mirrored, opencv

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_THRESHOLDS", "QueryFeatures", "Thresholds", "Verification", "verify_copy"]

#: Lowe's ratio: a match counts when its nearest descriptor is clearly nearer than the second.
RATIO = 0.8
#: RANSAC's inlier distance, in pixels of the 512-pixel working frame.
RANSAC_THRESHOLD = 4.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a geometric fit means "the same picture" (see the module docstring)."""

    #: Fewest keypoints that must agree with the fit.
    min_inliers: int = 15
    #: Share of the frames' common area the agreeing keypoints must span.
    min_coverage: float = 0.3
    #: Largest median distance (pixels at 512) of agreeing keypoints from the fit.
    max_residual: float = 1.5


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class Verification:
    """The verifier's answer: ``same`` and the measurements behind it.

    ``evidence`` holds the fit's figures (also when ``same`` is false, for a
    near miss); ``reason`` says in words why a candidate was refused.
    ``matches`` counts keypoint pairs that passed the ratio test.
    """

    same: bool
    evidence: Evidence
    matches: int
    reason: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class QueryFeatures:
    """A query's features, as seen and mirrored: computed once, compared with many."""

    direct: LocalFeatures
    flipped: LocalFeatures

    @classmethod
    def of(cls, image: Image.Image | LocalFeatures) -> QueryFeatures:
        """Features of ``image`` (or ones computed before) and of its mirror image."""
        direct = image if isinstance(image, LocalFeatures) else extract_features(image)
        return cls(direct, mirrored(direct))


def _root_sift(descriptors: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """RootSIFT: L1-normalise, square-root; dot products then compare like Hellinger kernels."""
    values = descriptors.astype(np.float32)
    values /= values.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(values)


def _ratio_matches(
    query: LocalFeatures, candidate: LocalFeatures
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Keypoints of ``query`` and ``candidate`` paired by the ratio test: two float32 ``(m, 2)``."""
    empty = np.zeros((0, 2), np.float32)
    if len(query) < 2 or len(candidate) < 2:
        return empty, empty
    similarity = _root_sift(query.descriptors) @ _root_sift(candidate.descriptors).T
    rows = np.arange(similarity.shape[0])
    nearest = similarity.argmax(axis=1)
    first = similarity[rows, nearest]
    similarity[rows, nearest] = -np.inf  # two passes of max beat argpartition's sort here
    second = similarity.max(axis=1)
    # RootSIFT rows have unit length: a squared distance is 2 - 2 * their dot product.
    keep = np.maximum(2 - 2 * first, 0) < (RATIO**2) * np.maximum(2 - 2 * second, 0)
    return query.points[keep], candidate.points[nearest[keep]]


def _area(points: npt.NDArray[np.float32]) -> float:
    if len(points) < 3:
        return 0.0
    cv2 = opencv()
    return float(cv2.contourArea(cv2.convexHull(points.reshape(-1, 1, 2))))


def _frame(size: tuple[int, int]) -> npt.NDArray[np.float32]:
    width, height = size
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)


def _fit(
    query: LocalFeatures, candidate: LocalFeatures, mirrored: bool
) -> tuple[Evidence, int]:
    """The best similarity taking candidate points onto query points, and its evidence."""
    cv2 = opencv()
    query_points, candidate_points = _ratio_matches(query, candidate)
    matches = len(query_points)
    if matches < 3:
        return Evidence(inliers=0, coverage=0.0, residual=math.inf, mirrored=mirrored), matches
    transform, mask = cv2.estimateAffinePartial2D(
        candidate_points,
        query_points,
        method=cv2.RANSAC,
        ransacReprojThreshold=RANSAC_THRESHOLD,
        maxIters=2000,
        confidence=0.995,
        refineIters=10,
    )
    if transform is None:
        return Evidence(inliers=0, coverage=0.0, residual=math.inf, mirrored=mirrored), matches
    inlying = mask.ravel().astype(bool)
    linear, shift = transform[:, :2], transform[:, 2]
    placed = candidate_points[inlying] @ linear.T + shift
    errors = np.linalg.norm(placed - query_points[inlying], axis=1)
    scale = math.sqrt(abs(float(np.linalg.det(linear)))) or 1e-9
    # The frames' common area, in query pixels: the query frame cut by the placed candidate frame.
    placed_frame = (_frame(candidate.size) @ linear.T + shift).astype(np.float32)
    common, _ = cv2.intersectConvexConvex(_frame(query.size), placed_frame)
    spanned = _area(query_points[inlying])
    evidence = Evidence(
        inliers=int(inlying.sum()),
        coverage=min(1.0, spanned / common) if common > 0 else 0.0,
        residual=float(np.median(errors)) if len(errors) else math.inf,
        scale=1.0 / scale,
        rotation=math.degrees(math.atan2(float(linear[1, 0]), float(linear[0, 0]))),
        mirrored=mirrored,
    )
    return evidence, matches


def _judge(evidence: Evidence, thresholds: Thresholds) -> str:
    """Why the fit is not a copy, or ``""`` when it is."""
    if evidence.inliers < thresholds.min_inliers:
        return f"{evidence.inliers} keypoints agree, fewer than {thresholds.min_inliers}"
    if evidence.residual > thresholds.max_residual:
        return f"the fit is loose ({evidence.residual:.2f} px > {thresholds.max_residual})"
    if evidence.coverage < thresholds.min_coverage:
        return (
            f"agreeing keypoints span {evidence.coverage:.0%} of the common area, "
            f"less than {thresholds.min_coverage:.0%}"
        )
    return ""


def verify_features(
    query: QueryFeatures,
    candidate: LocalFeatures,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verification:
    """Compare precomputed features: the query as seen first, then mirrored."""
    evidence, matches = _fit(query.direct, candidate, mirrored=False)
    reason = _judge(evidence, thresholds)
    if reason:
        flipped, flipped_matches = _fit(query.flipped, candidate, mirrored=True)
        if not _judge(flipped, thresholds) or flipped.inliers > evidence.inliers:
            evidence, matches, reason = flipped, flipped_matches, _judge(flipped, thresholds)
    return Verification(same=not reason, evidence=evidence, matches=matches, reason=reason)


def verify_copy(
    query: Image.Image | QueryFeatures,
    candidate: Image.Image | LocalFeatures,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verification:
    """Is ``candidate`` the same picture as ``query``, possibly edited or mirrored?

    Takes RGB ``PIL.Image`` s or features computed before (``QueryFeatures.of(image)``,
    ``extract_features(image)``), so one query can be checked against many
    candidates cheaply. Needs no store: this is the check ``find_postings`` runs
    on every shortlisted candidate. Raises
    :class:`~img2img.errors.MissingDependencyError` without OpenCV.

        result = verify_copy(Image.open("mine.jpg"), Image.open("found.jpg"))
        if result.same:
            print(result.evidence.inliers, result.evidence.coverage)
    """
    query_features = query if isinstance(query, QueryFeatures) else QueryFeatures.of(query)
    candidate_features = (
        candidate if isinstance(candidate, LocalFeatures) else extract_features(candidate)
    )
    return verify_features(query_features, candidate_features, thresholds=thresholds)
