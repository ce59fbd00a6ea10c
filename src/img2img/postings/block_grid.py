"""The dense check's grid of blocks, measured whole rather than block by block.

:func:`~img2img.postings.dense.dense_check` cuts the query's sketch into a
regular grid of blocks and asks two things of each before it looks for the
block: does the window it is looked for in lie wholly in the common area, and
is the block drawn in (the standard deviation of its grey levels against a few
thresholds), in the query and in the laid sketch? Asked one block at a time,
numpy's cost per call was most of the check's time; here a few array operations
answer for the whole grid.

The deviations only ever meet thresholds, so each block gets a *level*: how
many of the thresholds its deviation reaches. The levels are exactly those the
per-block float32 ``std`` gives: grey levels are integers, so the sums of a
block's values and of their squares, and with them its exact deviation, are
known; only where that lies within a hair of a threshold, where float32
rounding could fall either side, is the block's float32 ``std`` taken.
:func:`plan_blocks` turns the answers into what the check does with each block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.postings.features import opencv

__all__ = [
    "LOOK",
    "LOOK_CLEAR",
    "MISSING",
    "PASS",
    "contrast_levels",
    "grid",
    "plan_blocks",
    "windows_inside",
]

#: Relative distance of a block's exact variance from a threshold's square
#: within which its float32 ``std`` decides (float32 rounding is far below it).
NEAR = 1e-3
#: What the dense check does with a block: pass it by (outside the common area, or
#: flat), count it missing (flat on one side only), look for it (clearly drawn in:
#: looked for far off too when not found near).
PASS, MISSING, LOOK, LOOK_CLEAR = range(4)


def grid(shape: tuple[int, int], block: int, margin: int) -> tuple[range, range]:
    """Tops and lefts of the blocks of side ``block`` in an image of ``shape`` (height,
    width), every ``block`` pixels, each with ``margin`` pixels of the image around it."""
    height, width = shape
    return (
        range(margin, height - block - margin + 1, block),
        range(margin, width - block - margin + 1, block),
    )


def contrast_levels(
    pixels: npt.NDArray[np.uint8],
    as_float: npt.NDArray[np.float32],
    tops: range,
    lefts: range,
    block: int,
    thresholds: Sequence[float],
) -> npt.NDArray[np.int8]:
    """For each block of the grid (``tops`` x ``lefts``, stepping by ``block``), how many
    of ``thresholds`` (ascending) ``float(as_float[block].std())`` reaches (``>=``).

    ``as_float`` is ``pixels`` as float32 (the array the deviation is taken of).
    """
    rows, columns = len(tops), len(lefts)
    if rows == 0 or columns == 0:
        return np.zeros((rows, columns), np.int8)
    if tops.step != block or lefts.step != block:
        raise ValueError(f"the grid must step by the block's side ({block})")
    cv2 = opencv()
    # Integral images: exact integers (the squares' in float64, well below 2**53).
    sums, squares = cv2.integral2(pixels, sdepth=cv2.CV_32S, sqdepth=cv2.CV_64F)
    count = block * block
    # count² times each block's variance, exact.
    spread = count * _block_sums(squares, tops, lefts, block) - (
        _block_sums(sums, tops, lefts, block) ** 2
    )
    bounds = np.array([threshold * threshold * count * count for threshold in thresholds])
    levels = np.searchsorted(bounds, spread, side="right").astype(np.int8)
    near = (np.abs(spread[:, :, None] - bounds) <= NEAR * bounds).any(axis=2)
    if not near.any():
        return levels
    for row, column in zip(*np.nonzero(near), strict=True):
        top, left = tops[row], lefts[column]
        deviation = float(as_float[top : top + block, left : left + block].std())
        levels[row, column] = sum(deviation >= threshold for threshold in thresholds)
    return levels


def windows_inside(
    inside: npt.NDArray[np.uint8], tops: range, lefts: range, block: int, margin: int
) -> npt.NDArray[np.bool_]:
    """For each block of the grid, whether ``inside`` has no zero in the window of the
    block and ``margin`` pixels around it."""
    cv2 = opencv()
    zeros = cv2.integral((inside == 0).view(np.uint8), sdepth=cv2.CV_32S)
    side = block + 2 * margin
    first, start = tops.start - margin, lefts.start - margin
    rows, columns = len(tops), len(lefts)
    near = zeros[first : first + rows * tops.step : tops.step]
    far = zeros[first + side : first + side + rows * tops.step : tops.step]
    step = lefts.step
    inner = slice(start, start + columns * step, step)
    outer = slice(start + side, start + side + columns * step, step)
    return np.asarray((far[:, outer] - near[:, outer] - far[:, inner] + near[:, inner]) == 0)


def _block_sums(
    table: npt.NDArray[Any], tops: range, lefts: range, block: int
) -> npt.NDArray[np.float64]:
    """The sums over the blocks of the grid (stepping by ``block``) from an integral image."""
    corners = table[
        tops.start : tops.start + (len(tops) + 1) * block : block,
        lefts.start : lefts.start + (len(lefts) + 1) * block : block,
    ]
    sums = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
    return np.asarray(sums, np.float64)


def _step(mine: int, theirs: int) -> int:
    """What to do with a block wholly in the common area, drawn in as ``mine`` in the
    query and ``theirs`` in the laid sketch (levels of the dense check's contrasts: 0 flat,
    2 clearly drawn in, 3 drawn in enough to be missing where the other side is flat)."""
    if mine == 0 or theirs == 0:
        # Flat on one side: missing only when clearly drawn on the other.
        return MISSING if max(mine, theirs) == 3 else PASS
    return LOOK_CLEAR if mine >= 2 else LOOK


#: :func:`_step` of every pair of levels, at ``mine * 4 + theirs``.
_STEPS = np.array([_step(mine, theirs) for mine in range(4) for theirs in range(4)], np.int8)


def plan_blocks(
    whole: npt.NDArray[np.bool_], mine: npt.NDArray[np.int8], theirs: npt.NDArray[np.int8]
) -> list[int]:
    """What to do with each block of the grid, row by row (:func:`_step`; passed by when
    its window is not ``whole`` in the common area)."""
    steps = np.where(whole, _STEPS[mine * 4 + theirs], PASS)
    return list(steps.ravel().tolist())
