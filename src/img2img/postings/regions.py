"""Where a picture is made of other pictures: the regions of a composite, and tiles to search.

A collage's or a screenshot's whole-image embedding is the mean of the pictures
it shows, so none of them is near it in embedding space; each region embedded
on its own is. Two ways to cut a picture:

- :func:`split_regions` finds where it *is* split: lines of one colour that run
  the whole width or height (a collage's gutters, a comic's, a page's margins)
  cut it recursively (an XY-cut), and plain margins on three sides or more
  leave a picture on a background. A photo rarely has a line of one colour
  across it, so most pictures are not split and get nothing. A picture pasted
  over a photo (a picture-in-picture, no plain background) is found by its
  four straight edges instead (:mod:`~img2img.postings.insets`).
- :func:`query_regions` is what a query is searched by: the split regions when
  there are some, else overlapping tiles at two scales, which hold most of a
  picture-in-picture wherever it sits.

Boxes are ``(left, top, right, bottom)`` in the picture's own pixels, as given
(before any shrinking at decoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "ANALYSIS_SIDE",
    "Box",
    "box_text",
    "crop_regions",
    "given_size",
    "parse_box",
    "query_regions",
    "split_regions",
    "tiles",
]

Box = tuple[int, int, int, int]

#: Long side of the grey picture lines are looked for on: a 6-pixel gutter of a
#: 1,000-pixel collage keeps two pixels.
ANALYSIS_SIDE = 512
#: Largest standard deviation (grey levels) of a line called one colour: JPEG
#: ringing beside an edge stays under it, a clear sky's gradient mostly over it.
UNIFORM_STD = 2.5
#: Variance (grey levels squared) within which of ``UNIFORM_STD ** 2`` a line is left to
#: numpy's float32 standard deviation (whose rounding stays far under it).
NEAR_LIMIT = 0.01
#: Smallest region kept, as a share of the picture's side, and in pixels.
MIN_SHARE = 0.12
MIN_PIXELS = 32
#: Most regions a picture is split into (a 4 x 4 grid).
MAX_REGIONS = 16
#: Least margin (share of the side) that counts as a background around a picture.
MIN_MARGIN = 0.02
#: Widest gutter between two pictures, as a share of the side it cuts.
MAX_GUTTER = 0.06
#: Largest share of the area a picture on a background may cover: a logo or a
#: product shot with a little white around it is one picture, not a composite
#: (and a bigger region could not be told ``part`` of it: see
#: :data:`~img2img.postings.composites.MAX_SHARE`).
MAX_INNER_AREA = 0.5
#: Tiles searched when a query is not split: (tiles a side, tile's share of the side).
TILE_SCALES: tuple[tuple[int, float], ...] = ((2, 0.6), (3, 0.45))


def _grey(image: Image.Image) -> tuple[npt.NDArray[np.uint8], float]:
    """``image`` in grey levels (uint8) at :data:`ANALYSIS_SIDE` (never enlarged), and
    the pixels of the picture per analysis pixel."""
    from PIL import Image

    grey = image.convert("L")
    scale = min(1.0, ANALYSIS_SIDE / max(grey.size))
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BOX,
        )
    return np.asarray(grey, dtype=np.uint8), 1 / scale


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of true values."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _pieces(length: int, uniform: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The stretches of ``[0, length)`` between runs of uniform lines: margins at either
    end, and gutters inside no wider than :data:`MAX_GUTTER` of ``length`` (a wider
    plain band, a sky or a wall, is part of a picture)."""
    if not uniform.any():
        return [(0, length)]  # most lines of most pictures
    pieces, start = [], 0
    for a, b in _runs(uniform):
        if a > 0 and b < length and b - a > MAX_GUTTER * length:
            continue
        if a > start:
            pieces.append((start, a))
        start = b
    if start < length:
        pieces.append((start, length))
    return pieces


def _one_colour(
    part: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which rows and which columns of ``part`` (grey levels) are of one colour: those
    whose standard deviation is at most :data:`UNIFORM_STD` (numpy's, in float32)."""
    return _lines_of_one_colour(part, 1), _lines_of_one_colour(part, 0)


def _lines_of_one_colour(part: npt.NDArray[np.uint8], axis: int) -> npt.NDArray[np.bool_]:
    """:func:`_one_colour` of the rows (``axis`` 1) or the columns (0), cheaply.

    A line's darkest and brightest pixels alone hold half the square of their
    difference in its sum of squared deviations, so a line whose levels span more
    than ``sqrt(2 x count x limit)`` is not of one colour: most lines of a photo
    are told so from their minimum and maximum. The variance of the others is
    exact from their sums and sums of squares: the levels less 128 are whole
    numbers whose sums stay under 2**24 along a line of up to 1,023 pixels, so
    float32 adds them exactly in any order (numpy adds them: OpenCV's ``reduce``
    hands the work to its thread pool, whose threads then spin idle for longer
    than the sum takes). Lines within :data:`NEAR_LIMIT` of the limit are left to
    numpy's float32 standard deviation, which decided every line before, so both
    always agree.
    """
    count = part.shape[axis]
    limit = UNIFORM_STD**2 + NEAR_LIMIT
    brightest = part.max(axis=axis).astype(np.int32)
    darkest = part.min(axis=axis).astype(np.int32)
    maybe = np.flatnonzero(np.square(brightest - darkest) <= 2 * limit * count)
    uniform = np.zeros(part.shape[1 - axis], np.bool_)
    if len(maybe) == 0:
        return uniform
    lines = part[maybe] if axis == 1 else part[:, maybe]
    shifted = np.subtract(lines, np.float32(128), dtype=np.float32)
    sums = shifted.sum(axis=axis, dtype=np.float32)
    np.multiply(shifted, shifted, out=shifted)
    sums_of_squares = shifted.sum(axis=axis, dtype=np.float32)
    # count**2 x each line's variance, exact in float64.
    spread = count * sums_of_squares.astype(np.float64) - np.square(sums.astype(np.float64))
    if np.any(np.abs(spread - UNIFORM_STD**2 * count * count) <= NEAR_LIMIT * count * count):
        decided: npt.NDArray[np.bool_] = part.astype(np.float32).std(axis=axis) <= UNIFORM_STD
        return decided
    uniform[maybe] = spread <= UNIFORM_STD**2 * count * count
    return uniform


def _cut(
    grey: npt.NDArray[np.uint8],
    box: Box,
    depth: int,
    out: list[Box],
    least: tuple[int, int],
    root: bool = False,
) -> None:
    """XY-cut ``box`` of ``grey`` (analysis pixels) along lines of one colour; the
    ``root`` box (the whole picture) is trimmed of plain margins when not cut."""
    left, top, right, bottom = box
    part = grey[top:bottom, left:right]
    if part.shape[0] < least[1] or part.shape[1] < least[0]:
        return
    rows, columns = _one_colour(part)
    row_pieces = [p for p in _pieces(len(rows), rows) if p[1] - p[0] >= least[1]]
    column_pieces = [p for p in _pieces(len(columns), columns) if p[1] - p[0] >= least[0]]
    if not row_pieces or not column_pieces:
        return  # all one colour, or only slivers
    if depth > 0 and (len(row_pieces) > 1 or len(column_pieces) > 1):
        # Cut across the direction with more pieces first, then each piece the other way.
        if len(row_pieces) >= len(column_pieces):
            for a, b in row_pieces:
                _cut(grey, (left, top + a, right, top + b), depth - 1, out, least)
        else:
            for a, b in column_pieces:
                _cut(grey, (left + a, top, left + b, bottom), depth - 1, out, least)
        return
    if not root:
        # A piece the cut made ends at the gutters: a plain part of its own picture
        # (a sky, a white wall) is the picture's, not a margin.
        out.append(box)
        return
    out.append(
        (
            left + column_pieces[0][0],
            top + row_pieces[0][0],
            left + column_pieces[-1][1],
            top + row_pieces[-1][1],
        )
    )


def _margins(inner: Box, size: tuple[int, int]) -> int:
    """How many sides of ``size`` have a margin of at least :data:`MIN_MARGIN` around ``inner``."""
    left, top, right, bottom = inner
    width, height = size
    return sum(
        (
            left >= MIN_MARGIN * width,
            top >= MIN_MARGIN * height,
            width - right >= MIN_MARGIN * width,
            height - bottom >= MIN_MARGIN * height,
        )
    )


def split_regions(image: Image.Image) -> list[Box]:
    """The pictures ``image`` is composed of, where it is split; ``[]`` when it is not.

    A grid (gutters of one colour across the picture) gives its cells; a
    picture on a plain background (margins of one colour on three sides or
    more) gives the picture; failing both, a picture pasted over a photo (four
    straight edges closing a rectangle: :func:`~img2img.postings.insets.find_inset`)
    gives the picture. Regions smaller than :data:`MIN_SHARE` of a side
    are dropped; a picture split into more than :data:`MAX_REGIONS` is taken
    for a pattern, not a composite.
    """
    grey, scale = _grey(image)
    height, width = grey.shape
    least = (
        max(round(MIN_SHARE * width), round(MIN_PIXELS / scale), 2),
        max(round(MIN_SHARE * height), round(MIN_PIXELS / scale), 2),
    )
    cells: list[Box] = []
    _cut(grey, (0, 0, width, height), 3, cells, least, root=True)
    if len(cells) > MAX_REGIONS:
        return []
    if len(cells) == 1:
        left, top, right, bottom = cells[0]
        area = (right - left) * (bottom - top) / (width * height)
        if _margins(cells[0], (width, height)) < 3 or area > MAX_INNER_AREA:
            cells = []
    if not cells:
        from img2img.postings.insets import find_inset  # only for pictures not split so far

        inset = find_inset(grey, least, MAX_INNER_AREA)
        if inset is None:
            return []
        cells = [inset]
    full = given_size(image)
    scale *= full[0] / image.width  # to the picture's pixels as given
    return [
        (
            max(0, round(a * scale)),
            max(0, round(b * scale)),
            min(full[0], round(c * scale)),
            min(full[1], round(d * scale)),
        )
        for a, b, c, d in cells
    ]


def given_size(image: Image.Image) -> tuple[int, int]:
    """``(width, height)`` of the picture as given: before any shrinking when it was
    decoded (``info["original_size"]``), else its size."""
    width, height = image.info.get("original_size", image.size)
    return int(width), int(height)


def tiles(size: tuple[int, int], scales: tuple[tuple[int, float], ...] = TILE_SCALES) -> list[Box]:
    """Overlapping tiles of a ``(width, height)`` frame: for each ``(n, share)``, an
    ``n`` x ``n`` grid of tiles ``share`` of each side, spread evenly edge to edge."""
    width, height = size
    out: list[Box] = []
    for count, share in scales:
        tile_w, tile_h = round(width * share), round(height * share)
        for row in range(count):
            for column in range(count):
                left = round(column * (width - tile_w) / max(1, count - 1))
                top = round(row * (height - tile_h) / max(1, count - 1))
                out.append((left, top, left + tile_w, top + tile_h))
    return out


def query_regions(image: Image.Image) -> list[Box]:
    """The regions a query is also searched by: the cells where it is split, else tiles
    at two scales (and the picture a plain background holds, if any).

    A picture too small to hold a picture worth finding (under 2 x
    :data:`MIN_PIXELS` a side) has none.
    """
    if min(image.size) < 2 * MIN_PIXELS:
        return []
    split = split_regions(image)
    return split if len(split) > 1 else [*split, *tiles(given_size(image))]


def crop_regions(image: Image.Image, boxes: Sequence[Box]) -> list[Image.Image]:
    """``image`` cut to each box (in its pixels as given), as RGB pictures of their own."""
    if not boxes:
        return []
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # crop copies the pixels
    scale = image.width / given_size(image)[0]
    return [
        rgb.crop((box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)) for box in boxes
    ]


def box_text(box: Box) -> str:
    """A box as stored in metadata (a string: the stores' values allow no lists of numbers)."""
    return ",".join(str(int(v)) for v in box)


def parse_box(text: object) -> Box | None:
    """A box stored by :func:`box_text`; ``None`` for anything else."""
    if not isinstance(text, str):
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        return None
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        return None
    return (values[0], values[1], values[2], values[3])
