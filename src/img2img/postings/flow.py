"""A small query's pixels against the candidate's, a fraction of a pixel at a time.

The keypoints' residual is measured in the query's working frame. For a
thumbnail (120-160 pixels) that frame is small: a cut of another view of the
same scene, whose parallax is a few pixels at 512, leaves under half a pixel
of it, within what keypoints found on so few pixels scatter by anyway. The
candidate's own pixels are finer there, so the query's structure can be
compared with the candidate's laid on it at the query's resolution: the same
picture, shrunk, lies on it to a few hundredths of a pixel everywhere; another
view of the scene is displaced by a smooth field of its own, a few tenths to
more than a pixel.

:func:`flow_misfit` lays the candidate's sketch on the query's through the fit
(shrunk first by area, as a thumbnail is made), evens out brightness and
contrast (a recoloured repost), measures the dense optical flow between them
(OpenCV's DIS) where the query has edges, takes away the affine motion the flow
agrees on (what the fit itself missed), and measures two things:

- what is left over that motion: its upper quartile (parallax often moves a
  part only, the wall behind a motorcycle while the motorcycle fits);
- how far that affine motion is from a similarity (a stretch or a shear,
  taken at the spread of the edges): a similarity's copy, shrunk, needs none;
  across a cut of another view of a scene the depth changes smoothly, and a
  similarity fitted to it leaves a gradient of displacement, a pixel or so
  from one side of a thumbnail's cut to the other.

:func:`judge_flow` refuses by :class:`FlowGuard`.
It has a say only for a query whose sketch is its whole working frame (a long
side of :data:`~img2img.postings.features.SKETCH_SIDE` pixels or less): there the
query's every pixel is compared. A larger query's sketch is shrunk by another
chain of filters than the candidate laid on it, which leaves as much misfit as
a small parallax does (measured: collages, memes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from img2img.postings.features import opencv

__all__ = [
    "DEFAULT_FLOW_GUARD",
    "MIN_EDGE_PIXELS",
    "FlowGuard",
    "FlowMisfit",
    "flow_misfit",
    "in_scope",
    "judge_flow",
]

#: Least Sobel gradient (grey levels, 3 x 3 kernel) of a query pixel for its flow to count:
#: on flat areas flow is what the smoothing filled in.
EDGE = 40.0
#: Fewest query pixels with an edge in the common area for the flow to have a say.
MIN_EDGE_PIXELS = 30
#: Pixels taken off the common area's border (the laid candidate's edge is no flow).
BORDER = 3
#: Scale (Gaussian sigma, pixels) of the local brightness and contrast evened out.
EVEN = 2.0


@dataclass(frozen=True, slots=True)
class FlowMisfit:
    """The flow between a small query and the candidate laid on it, in query pixels.

    ``median`` and ``quartile`` (75th percentile) of what is left once the
    affine motion most of the flow agrees on is taken away; ``stretch``: how far
    that affine motion is from a similarity, as a displacement at the spread
    (root mean square distance from their centre) of the ``pixels`` query pixels
    with an edge in the common area, over which all are taken.
    """

    median: float
    quartile: float
    stretch: float
    pixels: int


@dataclass(frozen=True, slots=True)
class FlowGuard:
    """When a small query's pixels refute a fit. Chosen on the tuning third of
    ``benchmarks/guard_change.py``'s pictures (their reposts of 192 pixels or less,
    and bicubic thumbnails of 100, 140 and 192 pixels: 135 similarities), against
    thumbnails of one shot of a scene with cuts of the other (the stereo pair and
    the flat scenes of ``benchmarks/flatscenes.py``: 98 similarities the other
    checks accept)."""

    #: Largest upper quartile of the leftover flow: copies 0.49 at most but for one
    #: stretch of a 102-pixel photo fitted as a similarity (1.05); cuts of another
    #: view a median of 0.52.
    max_quartile: float = 0.5
    #: Largest departure of a similarity's flow from a similarity: copies 0.18 at most
    #: but for that stretch (0.68) and a 102-pixel photo with stickers (0.303); cuts of
    #: another view a median of 0.35 (0.2: 3 copies of 135 lost, 81 cuts of 98
    #: refused; 0.3: 2 and 65, with the quartile 69).
    max_stretch: float = 0.3


DEFAULT_FLOW_GUARD = FlowGuard()


def in_scope(sketch: npt.NDArray[np.uint8], size: tuple[int, int]) -> bool:
    """Whether a query's ``sketch`` is its whole working frame (``size``, width and height)."""
    return bool(sketch.shape[1] == size[0] and sketch.shape[0] == size[1])


def _even(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Local brightness and contrast evened out, back in 8 bits for the flow."""
    cv2 = opencv()
    values = pixels.astype(np.float32)
    detail = values - cv2.GaussianBlur(values, (0, 0), EVEN)
    spread = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), EVEN)) + 4.0
    evened: npt.NDArray[np.uint8] = np.clip(detail / spread * 40 + 128, 0, 255).astype(np.uint8)
    return evened


def flow_misfit(
    query: npt.NDArray[np.uint8],
    candidate: npt.NDArray[np.uint8],
    to_query: npt.NDArray[np.float64],
) -> FlowMisfit | None:
    """How far the query's pixels lie from the candidate's laid on them.

    ``query`` and ``candidate`` are sketches (uint8 ``(h, w)``); ``to_query``
    (3 x 3) takes candidate sketch pixels onto query sketch pixels. ``None`` when
    the common area has fewer than :data:`MIN_EDGE_PIXELS` query pixels with an edge.
    """
    cv2 = opencv()
    linear = to_query[:2, :2]
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    laid_from, matrix = candidate, to_query
    if 0 < scale < 0.9:
        # Shrink by area first, as a thumbnail is made: a bilinear warp alone would alias.
        size = (
            max(1, round(candidate.shape[1] * scale)),
            max(1, round(candidate.shape[0] * scale)),
        )
        laid_from = cv2.resize(candidate, size, interpolation=cv2.INTER_AREA)
        shrink = np.diag([size[0] / candidate.shape[1], size[1] / candidate.shape[0], 1.0])
        matrix = to_query @ np.linalg.inv(shrink)
    height, width = query.shape
    laid = cv2.warpPerspective(
        laid_from, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    inside = cv2.warpPerspective(
        np.full(laid_from.shape, 255, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST
    )
    kernel = np.ones((2 * BORDER + 1, 2 * BORDER + 1), np.uint8)
    inside = cv2.erode(inside, kernel) > 0
    grey = query.astype(np.float32)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    rows, cols = np.nonzero(inside & (gradient > EDGE))
    if len(rows) < MIN_EDGE_PIXELS:
        return None
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(
        _even(query), _even(laid), None
    )
    moved = flow[rows, cols].astype(np.float64)
    at = np.stack([cols, rows, np.ones_like(cols)], axis=1).astype(np.float64)
    kept = np.ones(len(rows), bool)
    for _ in range(3):  # the affine motion most of the flow agrees on
        affine, *_ = np.linalg.lstsq(at[kept], moved[kept], rcond=None)
        left = np.linalg.norm(moved - at @ affine, axis=1)
        kept = left <= max(3 * float(np.median(left)), 0.05)
    left = np.linalg.norm(moved - at @ affine, axis=1)
    # The flow's linear part, split into a similarity and the rest (a stretch, a shear).
    jacobian = affine[:2, :2].T
    unlike = float(
        np.hypot((jacobian[0, 0] - jacobian[1, 1]) / 2, (jacobian[0, 1] + jacobian[1, 0]) / 2)
    )
    spread = float(np.sqrt(cols[kept].var() + rows[kept].var()))
    return FlowMisfit(
        float(np.median(left)), float(np.percentile(left, 75)), unlike * spread, len(rows)
    )


def judge_flow(
    query: npt.NDArray[np.uint8],
    size: tuple[int, int],
    candidate: npt.NDArray[np.uint8],
    to_query: npt.NDArray[np.float64],
    guard: FlowGuard | None,
    *,
    similarity: bool,
) -> str:
    """Why the query's pixels are not the candidate's under the fit, or ``""``.

    ``query`` is the query's sketch and ``size`` its working frame; ``guard``
    ``None`` asks nothing. A query larger than its sketch is not asked (see the
    module docstring); a stretch is asked of a ``similarity`` only (a looser fit
    has one of its own).
    """
    if guard is None or not in_scope(query, size):
        return ""
    misfit = flow_misfit(query, candidate, to_query)
    if misfit is None:
        return ""
    if misfit.quartile > guard.max_quartile:
        return (
            f"a quarter of the query's edges lie {misfit.quartile:.2f} px or more from the "
            f"candidate's under the fit, beyond an affine motion (> {guard.max_quartile}): "
            "another view of the scene, seen small"
        )
    if similarity and misfit.stretch > guard.max_stretch:
        return (
            f"the query's pixels move {misfit.stretch:.2f} px from a similarity across the "
            f"common area (> {guard.max_stretch}), as depth changing across another view "
            "of the scene does"
        )
    return ""
