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
agrees on (what the fit itself missed), and returns what is left: its median
and its upper quartile. Parallax often moves a part only (the wall behind a
motorcycle, while the motorcycle fits), so the verifier judges the quartile: a
quarter of the query's edges more than half a pixel off.
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

__all__ = ["MIN_EDGE_PIXELS", "FlowMisfit", "flow_misfit", "in_scope", "judge_flow"]

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
    """The flow left over once its affine part is taken away, in query pixels.

    ``median`` and ``quartile`` (the 75th percentile) are over ``pixels`` query
    pixels with an edge in the common area.
    """

    median: float
    quartile: float
    pixels: int


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
    """How far the query's pixels lie from the candidate's laid on them, beyond an affine motion.

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
    return FlowMisfit(float(np.median(left)), float(np.percentile(left, 75)), len(rows))


def judge_flow(
    query: npt.NDArray[np.uint8],
    size: tuple[int, int],
    candidate: npt.NDArray[np.uint8],
    to_query: npt.NDArray[np.float64],
    most: float | None,
) -> str:
    """Why the query's pixels are not the candidate's under the fit, or ``""``.

    ``query`` is the query's sketch and ``size`` its working frame; ``most`` the
    largest upper quartile of the misfit (query pixels) allowed, ``None`` to ask nothing. A query
    larger than its sketch is not asked (see the module docstring).
    """
    if most is None or not in_scope(query, size):
        return ""
    misfit = flow_misfit(query, candidate, to_query)
    if misfit is None or misfit.quartile <= most:
        return ""
    return (
        f"a quarter of the query's edges lie {misfit.quartile:.2f} px or more from the "
        f"candidate's under the fit, beyond an affine motion (> {most}): another view of "
        "the scene, seen small"
    )
