"""A picture pasted over a photo (a picture-in-picture): its rectangle, found by its four straight edges.

A picture-in-picture has no background of one colour around it, so the
XY-cut of :mod:`~img2img.postings.regions` does not see it; what gives it away
is where the pasted picture meets the photo: four edges, each a straight line
along one row or one column of pixels, meeting at right angles. A photo's own
edges rarely are: a horizon or a shelf is one long line, not four that close a
rectangle; texture (grass, gravel) gives short curved edges.

How: Canny edges (OpenCV), each row's (column's) edge pixels OR-ed with its
neighbours' (a thin frame gives two edges a pixel or two apart), then a
morphological opening with a long line kernel, which keeps only straight
horizontal (vertical) runs. The rows and columns left are the candidate sides
(a few, the strongest kept); a rectangle is four of them whose edge pixels
cover at least :data:`COVERAGE` of each of its sides (prefix sums, every
pair of lines far enough apart at once). It must cover :data:`MIN_AREA` to
:data:`~img2img.postings.regions.MAX_INNER_AREA` of the picture, and hold a
picture, not one flat fill: a drawing's rectangles (a house, a panel) close
four straight sides too.

Only upright rectangles are looked for (a pasted picture is rarely turned),
with all four sides inside the picture (one touching the picture's edge has no
edge there).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["COVERAGE", "MIN_AREA", "find_inset"]

#: Share of each side of the rectangle its edge pixels must cover.
COVERAGE = 0.85
#: Least share of the picture's area an inset covers (15 % insets with some margin).
MIN_AREA = 0.08
#: Canny's hysteresis thresholds (grey levels).
CANNY_LOW, CANNY_HIGH = 50, 150
#: Rows (columns) either side OR-ed into each: a 3-pixel frame at the analysis size.
REACH = 1
#: Candidate rows and columns kept each way (the strongest): 16**4 rectangles at most.
CANDIDATES = 16
#: Largest share of a rectangle's pixels in its commonest grey (4 levels wide).
MOST_FLAT = 0.6
#: Long side the edges are looked for at (Canny's cost goes with the pixels); each
#: side found is then placed on the given picture's row or column of strongest step.
SEARCH_SIDE = 256
#: How far (pixels of the given picture) a side is looked for around where it was found.
PLACE_REACH = 3

Box = tuple[int, int, int, int]


def _lines(counts: npt.NDArray[np.float32], least: float) -> npt.NDArray[np.intp]:
    """Candidate sides: rows (columns) whose count of straight-run pixels is a local
    maximum and at least ``least``, the middle of each plateau, the strongest
    :data:`CANDIDATES` in order."""
    import cv2

    window = np.ones((2 * REACH + 1, 1), np.uint8)
    peaks = cv2.dilate(counts[:, None], window)[:, 0]
    rows = np.flatnonzero((counts >= least) & (counts >= peaks))
    if len(rows) == 0:
        return rows
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(rows) - 1]])
    middles = (rows[starts] + rows[ends]) // 2
    strongest = np.argsort(-counts[middles], kind="stable")[:CANDIDATES]
    return np.sort(middles[strongest])


def _cover(
    marks: npt.NDArray[np.uint8],
    lines: npt.NDArray[np.intp],
    starts: npt.NDArray[np.intp],
    stops: npt.NDArray[np.intp],
) -> npt.NDArray[np.float64]:
    """``[line, n]``: share of ``[starts[n], stops[n])`` of each line (a row of ``marks``)
    that is marked."""
    sums = np.zeros((len(lines), marks.shape[1] + 1))
    sums[:, 1:] = np.cumsum(marks[lines], axis=1)
    shares: npt.NDArray[np.float64] = (sums[:, stops] - sums[:, starts]) / np.maximum(
        stops - starts, 1
    )
    return shares


def find_inset(
    grey: npt.NDArray[np.uint8] | npt.NDArray[np.float32], least: tuple[int, int], most_area: float
) -> Box | None:
    """The rectangle of a picture pasted into ``grey`` (a picture in grey levels,
    uint8 or float32 ``(h, w)``), as ``(left, top, right, bottom)`` in its pixels; ``None``
    when there is none.

    Its sides are at least ``least`` = ``(width, height)`` pixels; its area is
    :data:`MIN_AREA` to ``most_area`` of the picture's. Of several, the one whose
    sides are best covered, then the largest (a picture's own lines inside it
    close smaller ones).
    Looked for at :data:`SEARCH_SIDE` pixels, then placed on ``grey``'s pixels.
    """
    import cv2

    height, width = grey.shape
    shrink = max(1.0, max(height, width) / SEARCH_SIDE)
    small = grey
    if shrink > 1:  # area averages in float32, as ever, whatever the levels come in
        size = (max(1, round(width / shrink)), max(1, round(height / shrink)))
        levels = np.asarray(grey, np.float32)
        small = np.asarray(cv2.resize(levels, size, interpolation=cv2.INTER_AREA), np.float32)
    scale = (width / small.shape[1], height / small.shape[0])
    found = _rectangle(
        small,
        (max(2, round(least[0] / scale[0])), max(2, round(least[1] / scale[1]))),
        most_area,
    )
    if found is None:
        return None
    left, top, right, bottom = found
    box = (left * scale[0], top * scale[1], right * scale[0], bottom * scale[1])
    return _place(np.asarray(grey, np.float32), box) if shrink > 1 else found


def _place(grey: npt.NDArray[np.float32], box: tuple[float, float, float, float]) -> Box:
    """``box`` with each side moved to the row (column) near it, within
    :data:`PLACE_REACH`, where ``grey`` steps most along that side."""
    left, top, right, bottom = (round(v) for v in box)
    steps_down = np.abs(np.diff(grey[:, left:right], axis=0)).mean(axis=1)  # row y | y + 1
    steps_across = np.abs(np.diff(grey[top:bottom, :], axis=1)).mean(axis=0)

    def strongest(steps: npt.NDArray[np.float32], near: int) -> int:
        low, high = max(0, near - PLACE_REACH - 1), min(len(steps), near + PLACE_REACH)
        return low + 1 + int(np.argmax(steps[low:high])) if high > low else near

    return (
        strongest(steps_across, left),
        strongest(steps_down, top),
        strongest(steps_across, right),
        strongest(steps_down, bottom),
    )


def _rectangle(
    grey: npt.NDArray[np.uint8] | npt.NDArray[np.float32], least: tuple[int, int], most_area: float
) -> Box | None:
    """:func:`find_inset` at the size of ``grey``."""
    import cv2

    height, width = grey.shape
    edges = (cv2.Canny(grey.astype(np.uint8), CANNY_LOW, CANNY_HIGH) > 0).astype(np.uint8)
    across = 2 * REACH + 1
    rows = np.asarray(cv2.dilate(edges, np.ones((across, 1), np.uint8)), np.uint8)  # horizontal
    top_bottom = _lines(_run_counts(rows, least[0]), COVERAGE * least[0])
    if len(top_bottom) < 2:
        return None  # no two long straight runs across: no rectangle, whatever runs down
    columns = np.ascontiguousarray(cv2.dilate(edges, np.ones((1, across), np.uint8)).T, np.uint8)
    left_right = _lines(_run_counts(columns, least[1]), COVERAGE * least[1])
    if len(left_right) < 2:
        return None
    # Only pairs of lines far enough apart make the sides of a rectangle: (top, bottom)
    # and (left, right) pairs, each in row-major order, so the rectangles below come in
    # the order of (top, bottom, left, right) as four nested loops would give them.
    tops_of, bottoms_of = np.nonzero(top_bottom[None, :] - top_bottom[:, None] >= least[1])
    lefts_of, rights_of = np.nonzero(left_right[None, :] - left_right[:, None] >= least[0])
    if len(tops_of) == 0 or len(lefts_of) == 0:
        return None
    horizontal = _cover(rows, top_bottom, left_right[lefts_of], left_right[rights_of])
    vertical = _cover(columns, left_right, top_bottom[tops_of], top_bottom[bottoms_of])
    sides, down = horizontal >= COVERAGE, vertical >= COVERAGE  # [y, (x0, x1)], [x, (y0, y1)]
    # [(y0, y1), (x0, x1)]: both horizontal sides and both vertical sides covered.
    closed = sides[tops_of] & sides[bottoms_of] & down[lefts_of].T & down[rights_of].T
    down_pair, across_pair = np.nonzero(closed)
    top, bottom = tops_of[down_pair], bottoms_of[down_pair]
    left, right = lefts_of[across_pair], rights_of[across_pair]
    tops, bottoms = top_bottom[top], top_bottom[bottom]
    lefts, rights = left_right[left], left_right[right]
    area = (rights - lefts) * (bottoms - tops) / (width * height)
    fits = np.flatnonzero((area >= MIN_AREA) & (area <= most_area))
    if len(fits) == 0:
        return None
    score = (
        horizontal[top, across_pair]
        + horizontal[bottom, across_pair]
        + vertical[left, down_pair]
        + vertical[right, down_pair]
    )
    levels: npt.NDArray[np.uint8] | None = None
    for i in fits[np.lexsort((-area[fits], -score[fits]))]:
        box = (int(lefts[i]), int(tops[i]), int(rights[i]), int(bottoms[i]))
        if levels is None:
            levels = _by_fours(grey)
        if not _flat(levels, box):
            return box
    return None


def _run_counts(marks: npt.NDArray[np.uint8], least: int) -> npt.NDArray[np.float32]:
    """Pixels of each row of ``marks`` (0 or 1) in straight runs of at least half of ``least``."""
    import cv2

    runs = cv2.morphologyEx(marks, cv2.MORPH_OPEN, np.ones((1, max(2, least // 2)), np.uint8))
    # numpy, not cv2.reduce: OpenCV hands a reduce to its thread pool, whose threads
    # then spin idle for longer than the sum takes.
    return np.asarray(runs.sum(axis=1), np.float32)


def _by_fours(grey: npt.NDArray[np.uint8] | npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """``grey``'s levels by fours (0 to 63), as :func:`_flat` counts them."""
    levels = grey if grey.dtype == np.uint8 else np.clip(grey, 0, 255).astype(np.uint8)
    return np.asarray(levels // 4, np.uint8)


def _flat(levels: npt.NDArray[np.uint8], box: Box) -> bool:
    """Whether the rectangle is mostly one flat fill (a shape a drawing is made of:
    a wall, a panel with a door), not a picture: more than :data:`MOST_FLAT` of
    its pixels within a grey level or two of its commonest (``levels``: the
    picture's grey levels by fours)."""
    import cv2

    left, top, right, bottom = box
    inside = levels[top + 2 : bottom - 1, left + 2 : right - 1]
    counts = cv2.calcHist([inside], [0], None, [64], [0, 64])  # exact counts, in float32
    return bool(counts.max() > MOST_FLAT * inside.size)
