"""When a looser fit (affine, perspective) means "the same picture, warped".

A stretched picture or a photo of a screen is one picture seen through another
transform; but two photos of one *flat* scene (a facade, a poster on a wall)
taken from different places relate by a homography too. A looser fit is
therefore accepted only with evidence a similarity could not have given
(:class:`WarpGuard`):

- **plausible**: the query's frame lands in the candidate as a convex
  quadrilateral with no corner sharper than ``min_corner_angle`` and a stretch
  no more than ``max_stretch``, as a screen seen at an angle or a careless
  resize makes, not a scene seen from a glancing angle;
- **contained**: one picture's whole frame lies inside the other's
  (``min_contained``): a warped copy shows the whole picture (a mockup shows the
  original whole; a stretched copy is the whole frame), while two shots of a
  scene from different places each cut it at their own frame's edges;
- **supported and broad**: at least ``min_inliers`` agreeing keypoints, spread
  over ``min_coverage`` of the textured common area;
- **tight, with no parallax**: a median misfit under ``max_residual`` and a
  :func:`~img2img.postings.fits.noise_ratio` of at least ``min_noise_ratio``:
  what a homography leaves over on a scene with depth is a smooth field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.postings.features import LocalFeatures, opencv
from img2img.postings.fits import RANSAC_THRESHOLD, Fit, frame, noise_ratio, polygon_area, project

__all__ = ["DEFAULT_WARP_GUARD", "WarpGuard", "corner_angles", "judge_warp", "second_motion"]


@dataclass(frozen=True, slots=True)
class WarpGuard:
    """Thresholds for a looser fit (see the module docstring). Chosen on the
    tuning photos of ``benchmarks/reposts.py``, checked on the held-out ones and
    on its pairs of one flat scene shot from two places."""

    #: Fewest agreeing keypoints: a looser model fits chance matches more easily.
    min_inliers: int = 20
    #: Share of the textured common area the agreeing keypoints must span.
    min_coverage: float = 0.3
    #: Largest median misfit (pixels at 512) under the looser model.
    max_residual: float = 1.0
    #: Least noise ratio of the misfit: independent scatter, not a smooth field.
    min_noise_ratio: float = 0.9
    #: Share of one frame that must lie inside the other.
    min_contained: float = 0.98
    #: Sharpest corner (degrees) of the query's frame seen in the candidate.
    min_corner_angle: float = 50.0
    #: Largest ratio of the fit's two principal scales (a 2:3 picture stretched to 16:9 is 2.7).
    max_stretch: float = 3.0
    #: Most matched pairs the fit leaves out that may agree on a second, different
    #: motion (a nearer plane: a sign, a floor, a balcony), as a share of the fit's inliers.
    max_second_motion: float = 0.08
    #: ... and never fewer than this many (the nested shapes of a logo agree on a
    #: scaling of their own by 13-19 keypoints).
    min_second_motion: int = 20


DEFAULT_WARP_GUARD = WarpGuard()


def corner_angles(quad: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64] | None:
    """Interior angles (degrees) of a quadrilateral given in order, or ``None`` when
    it is not convex (or a corner went to infinity)."""
    if not np.isfinite(quad).all():
        return None
    before = np.roll(quad, 1, axis=0) - quad
    after = np.roll(quad, -1, axis=0) - quad
    turns = np.roll(quad, -1, axis=0) - quad
    following = np.roll(turns, -1, axis=0)
    cross = turns[:, 0] * following[:, 1] - turns[:, 1] * following[:, 0]
    if not ((cross > 0).all() or (cross < 0).all()):
        return None
    lengths = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1)
    if (lengths <= 0).any():
        return None
    cosines = np.clip((before * after).sum(axis=1) / lengths, -1.0, 1.0)
    angles: npt.NDArray[np.float64] = np.degrees(np.arccos(cosines)).astype(np.float64)
    return angles


def _share_inside(quad: npt.NDArray[np.float64], size: tuple[int, int]) -> float:
    """Share of the convex ``quad``'s area that lies inside a ``size`` frame."""
    area = polygon_area(quad)
    if area <= 0:
        return 0.0
    cv2 = opencv()
    common, _ = cv2.intersectConvexConvex(
        quad.astype(np.float32).reshape(-1, 1, 2),
        frame(size).astype(np.float32).reshape(-1, 1, 2),
    )
    return float(common) / area


def _stretch(matrix: npt.NDArray[np.float64], at: npt.NDArray[np.float64]) -> float:
    """Ratio of the principal scales of the fit's local linear part at point ``at``."""
    x, y = float(at[0]), float(at[1])
    depth = matrix[2, 0] * x + matrix[2, 1] * y + matrix[2, 2]
    image = project(matrix, at.reshape(1, 2))[0]
    # Jacobian of the projective map at ``at``.
    jacobian = (matrix[:2, :2] - np.outer(image, matrix[2, :2])) / depth
    values = np.linalg.svd(jacobian, compute_uv=False)
    return float(values[0] / max(float(values[1]), 1e-12))


def judge_warp(fit: Fit, query: LocalFeatures, candidate: LocalFeatures, guard: WarpGuard) -> str:
    """Why the looser ``fit`` does not show the same picture warped, or ``""`` when it does."""
    evidence, matrix = fit.evidence, fit.matrix
    model = evidence.model
    if matrix is None or evidence.inliers < guard.min_inliers:
        return f"{evidence.inliers} keypoints agree with the {model} fit, fewer than {guard.min_inliers}"
    quad = project(np.linalg.inv(matrix), frame(query.size))  # query frame in candidate pixels
    angles = corner_angles(quad)
    if angles is None:
        return f"the {model} fit folds the query's frame (not a convex quadrilateral)"
    if angles.min() < guard.min_corner_angle:
        return (
            f"the {model} fit turns a corner of the frame to {angles.min():.0f} degrees "
            f"(< {guard.min_corner_angle:.0f})"
        )
    stretch = _stretch(matrix, frame(candidate.size).mean(axis=0))
    if stretch > guard.max_stretch:
        return f"the {model} fit stretches {stretch:.1f} times (> {guard.max_stretch})"
    contained = max(
        _share_inside(quad, candidate.size),
        _share_inside(project(matrix, frame(candidate.size)), query.size),
    )
    if contained < guard.min_contained:
        return (
            f"neither frame lies inside the other under the {model} fit "
            f"({contained:.0%} < {guard.min_contained:.0%}), as two shots of one scene"
        )
    if evidence.coverage < guard.min_coverage:
        return (
            f"agreeing keypoints span {evidence.coverage:.0%} of the textured common area "
            f"under the {model} fit, less than {guard.min_coverage:.0%}"
        )
    if evidence.residual > guard.max_residual:
        return f"the {model} fit is loose ({evidence.residual:.2f} px > {guard.max_residual})"
    ratio = noise_ratio(fit.points, fit.misfits)
    if ratio < guard.min_noise_ratio:
        return (
            f"what the {model} fit leaves over is smooth, as parallax is "
            f"(noise ratio {ratio:.2f} < {guard.min_noise_ratio})"
        )
    second = second_motion(fit)
    if second > max(guard.min_second_motion, guard.max_second_motion * evidence.inliers):
        return (
            f"{second} keypoints the {model} fit leaves out agree on another motion, "
            "as a nearer part of a scene shot from another place"
        )
    return ""


def second_motion(fit: Fit) -> int:
    """How many of the pairs ``fit`` leaves out agree on one other similarity that
    moves them well away from where ``fit`` puts them: a second plane, or parallax."""
    rest, matrix = fit.rest, fit.matrix
    if rest is None or matrix is None or len(rest) < 6:
        return 0
    cv2 = opencv()
    other, mask = cv2.estimateAffinePartial2D(
        rest.candidate, rest.query, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_THRESHOLD,
        maxIters=500, confidence=0.99, refineIters=0,
    )  # fmt: skip
    if other is None or mask is None:
        return 0
    agreeing = mask.ravel().astype(bool)
    if agreeing.sum() < 3:
        return 0
    # A different motion: the first fit misses these by far more than RANSAC's tolerance.
    missed = np.linalg.norm(
        project(matrix, rest.candidate[agreeing]) - rest.query[agreeing], axis=1
    )
    return int(agreeing.sum()) if float(np.median(missed)) > 2 * RANSAC_THRESHOLD else 0
