"""Geometric fits between two pictures' matched keypoints, and the measurements the verifier judges.

Three models, in order of looseness, each estimated with RANSAC by OpenCV:

- ``similarity``: rotation, uniform scale, shift (``estimateAffinePartial2D``): a
  resized, cropped, rotated copy;
- ``affine``: adds non-uniform scale and shear (``estimateAffine2D``): a picture
  stretched to another aspect ratio;
- ``perspective``: a homography (``findHomography``): a photo of a screen or a
  print, a mockup.

Every fit is kept as a 3 x 3 matrix taking candidate points (working frame) onto
query points, with its agreeing keypoints, their misfits and the measurements of
:class:`~img2img.models.Evidence`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.models import Evidence, FitModel
from img2img.postings.features import LocalFeatures, opencv

__all__ = [
    "LEAST_SHARE",
    "RANSAC_THRESHOLD",
    "Fit",
    "Pairs",
    "fit_model",
    "frame",
    "no_fit",
    "noise_ratio",
    "polygon_area",
    "project",
    "ransac_iterations",
]

#: RANSAC's inlier distance, in pixels of the 512-pixel working frame.
RANSAC_THRESHOLD = 4.0
#: RANSAC's most iterations, and the confidence with which it must find a model
#: that has the inliers asked for (see :func:`ransac_iterations`).
RANSAC_MAX_ITERS = 2000
RANSAC_CONFIDENCE = 0.995
#: Least share of the matched pairs a bounded search (``least_inliers``) looks for a
#: model of each kind to be agreed on by. A photo of a screen or a mockup shows the
#: whole picture, so most pairs agree with its homography: at least 52 % for every
#: warped repost of ``benchmarks/duplicates_real.py``'s 600 pictures. Two drawings
#: that share 20-100 matches but no picture have no such model, and looking for one
#: that 8 of them agree with (a thin fit the pixels may vouch for) took RANSAC its
#: full :data:`RANSAC_MAX_ITERS` draws, 40 % of the time of judging pairs; a model
#: 40 % agree with is found with :data:`RANSAC_CONFIDENCE` in about 200 draws.
LEAST_SHARE: dict[FitModel, float] = {"perspective": 0.4}
#: Points a model of each kind is drawn from.
_SAMPLE = {"similarity": 2, "affine": 3, "perspective": 4}
#: Agreeing keypoints whose misfits each keypoint's misfit is compared with
#: (:func:`noise_ratio`): enough to average scatter out, few enough to stay local.
NEIGHBOURS = 6

Matrix = npt.NDArray[np.float64]
Points = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class Pairs:
    """Keypoints paired by the ratio test: ``query[i]`` matches ``candidate[i]`` (float32 ``(m, 2)``)."""

    query: Points
    candidate: Points

    def __len__(self) -> int:
        return int(self.query.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class Fit:
    """A fit's evidence, its matrix (candidate -> query, ``None`` when nothing fitted),
    and the agreeing keypoints' positions and misfits (float ``(n, 2)`` each, query
    pixels) to judge the shape of its misfit."""

    evidence: Evidence
    matches: int
    points: Points
    misfits: npt.NDArray[np.float64]
    matrix: Matrix | None = None
    #: Agreeing keypoints over the keypoints the sparser picture has in the common
    #: part: how much of what could agree does (0 without a fit).
    agreement: float = 0.0
    #: The matched pairs the fit left out (``None`` without a fit).
    rest: Pairs | None = None


def no_fit(matches: int, mirrored: bool, model: FitModel = "similarity") -> Fit:
    nothing = np.zeros((0, 2), np.float32)
    evidence = Evidence(inliers=0, coverage=0.0, residual=math.inf, mirrored=mirrored, model=model)
    return Fit(evidence, matches, nothing, nothing.astype(np.float64))


def project(matrix: npt.NDArray[Any], points: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """``points`` float ``(n, 2)`` through the 3 x 3 ``matrix``; points sent to infinity become nan."""
    at = np.hstack([points.astype(np.float64), np.ones((len(points), 1))]) @ matrix.T
    depth = at[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(depth) > 1e-12, at[:, :2] / depth, np.nan)


def frame(size: tuple[int, int]) -> npt.NDArray[np.float64]:
    """The four corners of a ``(width, height)`` frame, clockwise from the top left."""
    width, height = size
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)


def polygon_area(points: npt.NDArray[np.floating[Any]]) -> float:
    """Area of the convex hull of ``points`` (0 for fewer than three)."""
    if len(points) < 3 or not np.isfinite(points).all():
        return 0.0
    cv2 = opencv()
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32).reshape(-1, 1, 2))))


def noise_ratio(
    points: npt.NDArray[np.floating[Any]],
    misfits: npt.NDArray[np.floating[Any]],
    neighbours: int = NEIGHBOURS,
) -> float:
    """How independent a fit's misfit is from one agreeing keypoint to the next.

    ``points`` float ``(n, 2)``: the agreeing keypoints; ``misfits`` float
    ``(n, 2)``: where the fit puts each one's partner, minus where it is. Each
    misfit is compared with the mean misfit of the point's ``neighbours``
    nearest points; the result is the median of those differences over the
    median misfit. Scatter that is independent between keypoints gives about
    ``sqrt(1 + 1 / neighbours)`` (1.08 for 6); a smooth displacement field, as
    parallax makes, is mostly cancelled by the neighbours' mean and gives much
    less (0.4-0.8 for a stereo pair). Fewer than 3 points give 0.0: nothing
    can be told.
    """
    count = len(points)
    typical = float(np.median(np.linalg.norm(misfits, axis=1))) if count else 0.0
    if count < 3 or typical <= 0:
        return 0.0
    near = min(neighbours, count - 1)
    at = points.astype(np.float64)
    squares = (at * at).sum(axis=1)
    distances = squares[:, None] + squares[None, :] - 2 * (at @ at.T)  # squared, all pairs
    np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, near - 1, axis=1)[:, :near]
    local = misfits - misfits[nearest].mean(axis=1)
    return float(np.median(np.linalg.norm(local, axis=1))) / typical


def _inside(points: npt.NDArray[np.floating[Any]], size: tuple[int, int]) -> npt.NDArray[np.bool_]:
    width, height = size
    x, y = points[:, 0], points[:, 1]
    return (x >= 0) & (x <= width) & (y >= 0) & (y <= height)


def _textured_common_part(
    query: LocalFeatures, candidate: LocalFeatures, matrix: Matrix
) -> tuple[npt.NDArray[np.float64], int]:
    """Every keypoint of either picture that lies where the two frames overlap, in
    query pixels: the part of the frame where agreement could be seen at all.

    Normalising by this, not by the whole common area, keeps a subject on a plain
    background (a product shot, a clock on a wall) from looking poorly covered.
    """
    back = np.linalg.inv(matrix)
    query_side = query.points[_inside(project(back, query.points), candidate.size)]
    placed = project(matrix, candidate.points)
    candidate_side = placed[_inside(placed, query.size)]
    fewer = min(len(query_side), len(candidate_side))
    return np.vstack([query_side.astype(np.float64), candidate_side]), fewer


def ransac_iterations(model: FitModel, pairs: int, least_inliers: int = 0) -> int:
    """Iterations RANSAC needs to find, with :data:`RANSAC_CONFIDENCE`, a ``model`` that
    ``least_inliers`` of ``pairs`` agree with, if there is one; at most :data:`RANSAC_MAX_ITERS`.
    A bounded search (``least_inliers`` > 0) also asks for the model's
    :data:`LEAST_SHARE` of the pairs.

    A fit with fewer inliers is refused whatever it is, so searching longer for
    one only costs time: among few pairs (two alike photos that share no
    pixels have a dozen or two) a model that could pass must have most of them,
    and a few dozen draws find it. OpenCV stops as early on its own once it
    finds such a model; this bound stops it when there is none.
    """
    if least_inliers > 0:
        least_inliers = max(least_inliers, math.ceil(LEAST_SHARE.get(model, 0.0) * pairs))
    share = least_inliers / pairs if pairs else 0.0
    if share <= 0:
        return RANSAC_MAX_ITERS
    if share >= 1:
        return 1
    all_in = share ** _SAMPLE[model]  # chance that one draw holds inliers only
    needed = math.log(1 - RANSAC_CONFIDENCE) / math.log1p(-all_in)
    return max(1, min(RANSAC_MAX_ITERS, math.ceil(needed)))


def _estimate(
    model: FitModel, pairs: Pairs, least_inliers: int = 0
) -> tuple[Matrix | None, npt.NDArray[np.bool_] | None]:
    cv2 = opencv()
    source, target = pairs.candidate, pairs.query
    iterations = ransac_iterations(model, len(pairs), least_inliers)
    if model == "perspective":
        if len(pairs) < 4:
            return None, None
        matrix, mask = cv2.findHomography(
            source,
            target,
            cv2.RANSAC,
            RANSAC_THRESHOLD,
            maxIters=iterations,
            confidence=RANSAC_CONFIDENCE,
        )
    else:
        estimate = cv2.estimateAffine2D if model == "affine" else cv2.estimateAffinePartial2D
        affine, mask = estimate(
            source,
            target,
            method=cv2.RANSAC,
            ransacReprojThreshold=RANSAC_THRESHOLD,
            maxIters=iterations,
            confidence=RANSAC_CONFIDENCE,
            refineIters=10,
        )
        matrix = None if affine is None else np.vstack([affine, [0.0, 0.0, 1.0]])
    if matrix is None or mask is None or not np.isfinite(matrix).all():
        return None, None
    if abs(float(np.linalg.det(matrix))) < 1e-12:
        return None, None
    return matrix.astype(np.float64), mask.ravel().astype(bool)


def _corners(
    matrix: Matrix, query: LocalFeatures, candidate: LocalFeatures
) -> tuple[tuple[float, float], ...] | None:
    """The query's frame corners in the candidate's own pixels (as posted), or ``None``."""
    placed = project(np.linalg.inv(matrix), frame(query.size)) / candidate.shrink
    if not np.isfinite(placed).all():
        return None
    return tuple((round(float(x), 1), round(float(y), 1)) for x, y in placed)


def fit_model(
    model: FitModel,
    pairs: Pairs,
    query: LocalFeatures,
    candidate: LocalFeatures,
    mirrored: bool,
    *,
    least_inliers: int = 0,
) -> Fit:
    """The best ``model`` taking candidate points onto query points, and its evidence.

    With ``least_inliers``, RANSAC searches only as long as it takes to find a
    model that many pairs agree with (:func:`ransac_iterations`): for a caller
    that refuses any fit with fewer.
    """
    matches = len(pairs)
    if matches < 3:
        return no_fit(matches, mirrored, model)
    matrix, inlying = _estimate(model, pairs, least_inliers)
    if matrix is None or inlying is None:
        return no_fit(matches, mirrored, model)
    misfits = project(matrix, pairs.candidate[inlying]) - pairs.query[inlying]
    errors = np.linalg.norm(misfits, axis=1)
    linear = matrix[:2, :2]
    scale = math.sqrt(abs(float(np.linalg.det(linear)))) or 1e-9
    spanned = polygon_area(pairs.query[inlying])
    common, fewer = _textured_common_part(query, candidate, matrix)
    textured = polygon_area(common)
    evidence = Evidence(
        inliers=int(inlying.sum()),
        coverage=min(1.0, spanned / textured) if textured > 0 else 0.0,
        residual=float(np.median(errors)) if len(errors) else math.inf,
        # In the pictures' own pixels: undo each side's shrinking to the working frame.
        scale=(1.0 / scale) * query.shrink / candidate.shrink,
        rotation=math.degrees(math.atan2(float(linear[1, 0]), float(linear[0, 0]))),
        mirrored=mirrored,
        model=model,
        corners=_corners(matrix, query, candidate),
        frame=candidate.source_size or candidate.size,
    )
    agreement = evidence.inliers / fewer if fewer else 0.0
    rest = Pairs(pairs.query[~inlying], pairs.candidate[~inlying])
    return Fit(evidence, matches, pairs.query[inlying], misfits, matrix, agreement, rest)
