"""Is the candidate the same picture as the query? Local features and one geometric fit.

A copy of a picture (resized, re-encoded, cropped, rotated, recoloured, with text
or a border added, mirrored) relates to its original by a *similarity*: rotation,
uniform scale and shift, after an optional left-right flip. So the verifier
matches SIFT keypoints (Lowe's ratio test on RootSIFT descriptors), fits a
similarity with RANSAC (OpenCV's ``estimateAffinePartial2D``) and accepts when
the fit is

- **supported**: at least :attr:`Thresholds.min_inliers` keypoints agree with it;
- **tight**: the agreeing keypoints land within a fraction of a pixel of where the
  fit puts them (:attr:`Thresholds.max_residual`), or, if the fit is looser
  (up to :attr:`Thresholds.max_noisy_residual`), its misfit is *noise*: it
  differs from keypoint to keypoint instead of moving neighbouring keypoints
  alike (:attr:`Thresholds.min_noise_ratio`, see :func:`noise_ratio`);
- **broad**: they span a good part of the area the two frames share
  (:attr:`Thresholds.min_coverage`).

Inliers alone are not enough: two photos of one scene from nearby viewpoints (a
stereo pair, a facade shot twice) share many keypoints, but with parallax no
single similarity fits them all tightly across the frame. Parallax shifts
neighbouring keypoints alike (their depths are alike), so what the fit leaves
over is a smooth displacement field; a copy whose keypoints are merely placed
less exactly (a dark, flattened, recoloured picture with little texture)
leaves independent scatter. The thresholds were chosen on one part of the
benchmark's photos and checked on the rest (see ``docs/postings.md``). A
mirrored copy is verified with the flipped query's features (SIFT is not
mirror-symmetric).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from img2img.models import Evidence
from img2img.postings.features import LocalFeatures, extract_features, mirrored, opencv

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_THRESHOLDS",
    "QueryFeatures",
    "Thresholds",
    "Verification",
    "noise_ratio",
    "one_blas_thread",
    "verify_copy",
    "verify_features",
]

#: Lowe's ratio: a match counts when its nearest descriptor is clearly nearer than the second.
RATIO = 0.8
#: RANSAC's inlier distance, in pixels of the 512-pixel working frame.
RANSAC_THRESHOLD = 4.0
#: Agreeing keypoints whose misfits each keypoint's misfit is compared with
#: (:func:`noise_ratio`): enough to average scatter out, few enough to stay local.
NEIGHBOURS = 6


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a geometric fit means "the same picture" (see the module docstring).

    The defaults come from ``benchmarks/quality.py``'s tuning photos (19 photos x
    13 edits, 2,470 pairs of different photos): different photos never had more
    than 6 keypoints agree with a similarity, copies had a median of 150-470;
    copies' residuals stayed under 0.7 px in 99 % of cases, while the stereo
    pair of the held-out photos sits at 1.2-1.65 px; copies' coverage was over
    0.2 in 99 % of cases, a shared watermark or logo covers a few per cent.
    """

    #: Fewest keypoints that must agree with the fit: twice the most seen between
    #: different photos.
    min_inliers: int = 12
    #: Share of the textured common part of the frames the agreeing keypoints
    #: must span: rules out agreement confined to a logo, a watermark, an inset.
    min_coverage: float = 0.1
    #: Largest median distance (pixels at 512) of agreeing keypoints from the fit:
    #: copies land within a fraction of a pixel, parallax spreads a scene shot twice.
    max_residual: float = 1.0
    #: Largest residual of a fit whose misfit is noise (see ``min_noise_ratio``):
    #: half of RANSAC's tolerance, well under the ~2.8 px at which keypoints
    #: that agree by chance scatter.
    max_noisy_residual: float = 2.0
    #: Least :func:`noise_ratio` for a fit looser than ``max_residual``: about
    #: 1.1 for independent scatter, 0.4-0.8 for parallax. 0.9 keeps 99 % of copies.
    min_noise_ratio: float = 0.9


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


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS libraries on one thread each.

    Verification multiplies many small matrices (800 x 128 by 128 x 800); BLAS
    threads cost more to wake than such a product takes, and on a busy machine
    two of them made matching 5x slower than one. Callers parallelise over
    candidates instead. The limit is process-wide while the block runs.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


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


@dataclass(frozen=True, slots=True, eq=False)
class _Fit:
    """A fit's evidence, and the agreeing keypoints' positions and misfits
    (float ``(n, 2)`` each, query pixels) to judge the shape of its misfit."""

    evidence: Evidence
    matches: int
    points: npt.NDArray[np.float32]
    misfits: npt.NDArray[np.float64]


def _area(points: npt.NDArray[np.float32]) -> float:
    if len(points) < 3:
        return 0.0
    cv2 = opencv()
    return float(cv2.contourArea(cv2.convexHull(points.reshape(-1, 1, 2))))


def _inside(points: npt.NDArray[np.floating[Any]], size: tuple[int, int]) -> npt.NDArray[np.bool_]:
    width, height = size
    x, y = points[:, 0], points[:, 1]
    return (x >= 0) & (x <= width) & (y >= 0) & (y <= height)


def _textured_common_part(
    query: LocalFeatures, candidate: LocalFeatures, transform: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """Every keypoint of either picture that lies where the two frames overlap, in
    query pixels: the part of the frame where agreement could be seen at all.

    Normalising by this, not by the whole common area, keeps a subject on a plain
    background (a product shot, a clock on a wall) from looking poorly covered.
    """
    cv2 = opencv()
    back = cv2.invertAffineTransform(transform)
    query_side = query.points[_inside(query.points @ back[:, :2].T + back[:, 2], candidate.size)]
    placed = candidate.points @ transform[:, :2].T + transform[:, 2]
    candidate_side = placed[_inside(placed, query.size)]
    return np.vstack([query_side, candidate_side]).astype(np.float32)


def _no_fit(matches: int, mirrored: bool) -> _Fit:
    nothing = np.zeros((0, 2), np.float32)
    evidence = Evidence(inliers=0, coverage=0.0, residual=math.inf, mirrored=mirrored)
    return _Fit(evidence, matches, nothing, nothing.astype(np.float64))


def _corners(
    transform: npt.NDArray[np.float64],
    query: LocalFeatures,
    candidate: LocalFeatures,
    mirrored: bool,
) -> tuple[tuple[float, float], ...]:
    """The query's frame carried into the candidate by the inverse of ``transform``,
    as fractions of the candidate's frame, from the query's own top-left clockwise."""
    cv2 = opencv()
    width, height = query.size
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    if mirrored:  # the flipped query's x runs the other way: keep the picture's own corners
        frame[:, 0] = width - frame[:, 0]
    back = cv2.invertAffineTransform(transform)
    placed = frame @ back[:, :2].T + back[:, 2]
    across, down = candidate.size
    return tuple((round(float(x) / across, 4), round(float(y) / down, 4)) for x, y in placed)


def _fit(query: LocalFeatures, candidate: LocalFeatures, mirrored: bool) -> _Fit:
    """The best similarity taking candidate points onto query points, and its evidence."""
    cv2 = opencv()
    query_points, candidate_points = _ratio_matches(query, candidate)
    matches = len(query_points)
    if matches < 3:
        return _no_fit(matches, mirrored)
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
        return _no_fit(matches, mirrored)
    inlying = mask.ravel().astype(bool)
    linear, shift = transform[:, :2], transform[:, 2]
    misfits = candidate_points[inlying] @ linear.T + shift - query_points[inlying]
    errors = np.linalg.norm(misfits, axis=1)
    scale = math.sqrt(abs(float(np.linalg.det(linear)))) or 1e-9
    spanned = _area(query_points[inlying])
    textured = _area(_textured_common_part(query, candidate, transform))
    evidence = Evidence(
        inliers=int(inlying.sum()),
        coverage=min(1.0, spanned / textured) if textured > 0 else 0.0,
        residual=float(np.median(errors)) if len(errors) else math.inf,
        # In the pictures' own pixels: undo each side's shrinking to the working frame.
        scale=(1.0 / scale) * query.shrink / candidate.shrink,
        rotation=math.degrees(math.atan2(float(linear[1, 0]), float(linear[0, 0]))),
        mirrored=mirrored,
        corners=_corners(transform, query, candidate, mirrored),
    )
    return _Fit(evidence, matches, query_points[inlying], misfits)


def _judge(fit: _Fit, thresholds: Thresholds) -> str:
    """Why the fit is not a copy, or ``""`` when it is."""
    evidence = fit.evidence
    if evidence.inliers < thresholds.min_inliers:
        return f"{evidence.inliers} keypoints agree, fewer than {thresholds.min_inliers}"
    if evidence.residual > thresholds.max_residual:
        loose = f"the fit is loose ({evidence.residual:.2f} px > {thresholds.max_residual})"
        if evidence.residual > thresholds.max_noisy_residual:
            return loose
        # Only loose fits pay for this: all-pairs distances between agreeing keypoints.
        ratio = noise_ratio(fit.points, fit.misfits)
        if ratio < thresholds.min_noise_ratio:
            return (
                f"{loose} and neighbouring keypoints are displaced alike, as parallax does "
                f"(noise ratio {ratio:.2f} < {thresholds.min_noise_ratio})"
            )
    if evidence.coverage < thresholds.min_coverage:
        return (
            f"agreeing keypoints span {evidence.coverage:.0%} of the textured common area, "
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
    fit = _fit(query.direct, candidate, mirrored=False)
    reason = _judge(fit, thresholds)
    if reason:
        flipped = _fit(query.flipped, candidate, mirrored=True)
        flipped_reason = _judge(flipped, thresholds)
        if not flipped_reason or flipped.evidence.inliers > fit.evidence.inliers:
            fit, reason = flipped, flipped_reason
    return Verification(same=not reason, evidence=fit.evidence, matches=fit.matches, reason=reason)


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
    with one_blas_thread():
        return verify_features(query_features, candidate_features, thresholds=thresholds)
