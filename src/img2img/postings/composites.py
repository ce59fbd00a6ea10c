"""Whether a verified fit is one picture composed into another, and where: ``contains``, ``part``.

A verified fit places the query's frame in the candidate (``Evidence.corners``).
When one frame lies whole inside the other and covers at most
:data:`MAX_SHARE` of it, the two are either a crop and its original (still a
``copy``: the picture goes on past the smaller frame's edges) or a composite
and one of its pictures (a collage tile, a picture-in-picture: the bigger
picture changes at the smaller frame's edges). What tells them apart:

- the query contains the candidate (``contains``) when, along every side of
  the candidate's frame in the query that is not the query's own edge, a line
  of one colour runs just outside it (a collage's gutter, an inset's frame, a
  page's background) and the query's pixels are at hand to look;
- the query is part of the candidate (``part``) when the query's frame lies in
  one of the regions the candidate was split into when it was indexed
  (:func:`~img2img.postings.regions.split_regions`, kept in its metadata): the
  candidate's pixels are not at hand when judging, its regions are.

The region is a box ``(left, top, right, bottom)``: in the query's pixels for
``contains``, in the candidate's for ``part``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from img2img.models import Evidence, Metadata
from img2img.postings.regions import Box, parse_box

__all__ = [
    "MAX_SHARE",
    "REGIONS_FIELD",
    "Composed",
    "QueryPixels",
    "Side",
    "composed",
    "stored_regions",
]

#: Metadata field of a stored picture listing the regions it was split into.
REGIONS_FIELD = "regions"
#: Largest share of the bigger frame's area the smaller may cover to be a part of it:
#: a 2 x 2 collage's tile covers a quarter, a picture-in-picture 15-40 %; a picture
#: in a screenshot's page with bars and margins more than half, and stays a copy.
MAX_SHARE = 0.5
#: Share of its corners' span a frame may stick out of the other and still lie in it.
TOLERANCE = 0.03
#: Largest standard deviation (grey levels) of a line called one colour beside a frame.
SEAM_STD = 8.0
#: Lines looked at beyond each side of a placed frame (pixels of the query): the
#: fit places a frame within a few pixels, a gutter or a frame is a few wide.
SEAM_REACH = 8
#: Longest side of the query's grey pixels kept for looking at seams.
SEAM_SIDE = 2048


@dataclass(frozen=True, slots=True, eq=False)
class QueryPixels:
    """The query in grey (float32 ``(h, w)``) and how many of its pixels (as given) one of these is."""

    grey: npt.NDArray[np.float32]
    scale: float

    @classmethod
    def of(cls, image: object) -> QueryPixels | None:
        """A decoded query's grey pixels (at most :data:`SEAM_SIDE` a side); ``None``
        for anything but a PIL image."""
        from PIL import Image

        if not isinstance(image, Image.Image):
            return None
        grey = image.convert("L")
        shrink = max(1.0, max(grey.size) / SEAM_SIDE)
        if shrink > 1:
            grey = grey.resize(
                (max(1, round(grey.width / shrink)), max(1, round(grey.height / shrink))),
                Image.Resampling.BOX,
            )
        # Regions are told in the query's pixels as given, before any shrinking at decoding.
        width = image.info.get("original_size", image.size)[0]
        return cls(np.asarray(grey, dtype=np.float32), width / grey.width)


@dataclass(frozen=True, slots=True)
class Composed:
    """How a verified pair is composed: ``relation`` and the ``region`` box."""

    relation: Literal["contains", "part"]
    region: Box


def stored_regions(metadata: Metadata) -> list[Box]:
    """The regions a stored picture was split into when indexed (none when it was not)."""
    value = metadata.get(REGIONS_FIELD)
    if not isinstance(value, list):
        return []
    return [box for box in (parse_box(text) for text in value) if box is not None]


def _homography(
    source: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64] | None:
    from img2img.postings.features import opencv

    try:
        matrix = opencv().getPerspectiveTransform(
            source.astype(np.float32), target.astype(np.float32)
        )
    except Exception:  # degenerate corners (cv2.error): nothing can be placed
        return None
    return np.asarray(matrix, np.float64) if np.isfinite(matrix).all() else None


def _place(
    matrix: npt.NDArray[np.float64], points: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    at = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    return at[:, :2] / at[:, 2:3]


def _frame(width: float, height: float) -> npt.NDArray[np.float64]:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)


def _area(quad: npt.NDArray[np.float64]) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _inside(quad: npt.NDArray[np.float64], width: float, height: float) -> bool:
    """Whether ``quad`` lies in a ``width`` x ``height`` frame, within :data:`TOLERANCE`."""
    if not np.isfinite(quad).all():
        return False
    slack_x = TOLERANCE * (quad[:, 0].max() - quad[:, 0].min())
    slack_y = TOLERANCE * (quad[:, 1].max() - quad[:, 1].min())
    return bool(
        (quad[:, 0] >= -slack_x).all()
        and (quad[:, 0] <= width + slack_x).all()
        and (quad[:, 1] >= -slack_y).all()
        and (quad[:, 1] <= height + slack_y).all()
    )


def _box(quad: npt.NDArray[np.float64], width: float, height: float) -> Box:
    return (
        max(0, round(float(quad[:, 0].min()))),
        max(0, round(float(quad[:, 1].min()))),
        min(round(width), round(float(quad[:, 0].max()))),
        min(round(height), round(float(quad[:, 1].max()))),
    )


def _line(grey: npt.NDArray[np.float32], box: Box, side: str, away: int) -> npt.NDArray[np.float32]:
    """The line of ``grey`` ``away`` pixels outside ``side`` of ``box``, along it (empty
    past the picture's edge)."""
    left, top, right, bottom = box
    height, width = grey.shape
    if side == "left":
        return grey[top:bottom, left - away] if left - away >= 0 else grey[:0, 0]
    if side == "right":
        at = right + away - 1
        return grey[top:bottom, at] if at < width else grey[:0, 0]
    if side == "top":
        return grey[top - away, left:right] if top - away >= 0 else grey[0, :0]
    at = bottom + away - 1
    return grey[at, left:right] if at < height else grey[0, :0]


def _seamed(pixels: QueryPixels, box: Box) -> bool:
    """Whether a line of one colour runs just outside every side of ``box`` (query
    pixels) that is not the query's own edge, and at least one such side exists."""
    grey = pixels.grey
    height, width = grey.shape
    at = tuple(round(v / pixels.scale) for v in box)
    left, top, right, bottom = at
    reach = max(2, round(SEAM_REACH / pixels.scale))
    edge = max(2, reach // 2)
    room = {"left": left, "top": top, "right": width - right, "bottom": height - bottom}
    inner = [side for side, space in room.items() if space > edge]
    if not inner or bottom - top < 4 or right - left < 4:
        return False
    for side in inner:
        lines = (_line(grey, (left, top, right, bottom), side, d) for d in range(1, reach + 1))
        stds = [float(line.std()) for line in lines if len(line)]
        if not stds or min(stds) > SEAM_STD:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Side:
    """The part of the query a fit was made with, as the verifier saw it: its working
    frame ``size``, query pixels per working pixel (``scale``), and where it sits in
    the query (``origin``, query pixels): the whole query, or one of its regions."""

    size: tuple[int, int]
    scale: float
    origin: tuple[int, int] = (0, 0)

    @property
    def whole(self) -> bool:
        return self.origin == (0, 0)


def composed(
    evidence: Evidence,
    side: Side,
    query_size: tuple[int, int],
    query_pixels: QueryPixels | None,
    candidate_regions: Sequence[Box],
    query_regions: Sequence[Box] = (),
) -> Composed | None:
    """``contains`` or ``part`` with its region, when the verified ``evidence`` places
    one picture inside the other as a composite does; ``None`` for a copy.

    ``side`` is what of the query the fit was made with; ``query_size`` the whole
    query's ``(width, height)``; ``query_pixels`` its grey pixels (``None``:
    ``contains`` cannot be told); ``candidate_regions`` and ``query_regions`` the
    regions each was split into (:func:`~img2img.postings.regions.split_regions`).
    """
    if not evidence.corners or not evidence.frame or len(evidence.corners) != 4:
        return None
    query_w, query_h = query_size
    cand_w, cand_h = evidence.frame
    side_w, side_h = side.size
    if min(query_w, query_h, cand_w, cand_h, side_w, side_h) <= 0:
        return None
    corners = np.array(evidence.corners, np.float64)
    if not np.isfinite(corners).all():
        return None
    # The query in the candidate: is it one of the candidate's pictures?
    if side.whole:
        cell = _cell(candidate_regions, corners, cand_w, cand_h)
        if cell is not None:
            return Composed("part", cell)
    # The candidate in the query: is it one of the query's pictures?
    to_candidate = _homography(_frame(side_w, side_h), corners)
    if to_candidate is None:
        return None
    try:
        to_side = np.linalg.inv(to_candidate)
    except np.linalg.LinAlgError:
        return None
    quad = _place(np.asarray(to_side, np.float64), _frame(cand_w, cand_h))
    if evidence.mirrored:  # the fit placed the flipped query: flip back
        quad[:, 0] = side_w - quad[:, 0]
    quad = quad * side.scale + np.array(side.origin, np.float64)
    if not np.isfinite(quad).all():
        return None
    cell = _cell(query_regions, quad, query_w, query_h)
    if cell is not None:  # a tile of a grid, perhaps cut to fit it
        return Composed("contains", cell)
    if query_pixels is None:
        return None
    if not _inside(quad, query_w, query_h) or _area(quad) > MAX_SHARE * query_w * query_h:
        return None
    region = _box(quad, query_w, query_h)  # a picture whole inside another
    return Composed("contains", region) if _seamed(query_pixels, region) else None


def _cell(
    regions: Sequence[Box], quad: npt.NDArray[np.float64], width: float, height: float
) -> Box | None:
    """The region of a split picture (``width`` x ``height``) where the frame placed at
    ``quad`` is one of its pictures: the frame fills the region, with at least half
    of it shown there (a picture cut to fit a collage's cell), or lies in it. Their
    common box, or ``None``."""
    placed = (
        float(quad[:, 0].min()),
        float(quad[:, 1].min()),
        float(quad[:, 0].max()),
        float(quad[:, 1].max()),
    )
    placed_area = (placed[2] - placed[0]) * (placed[3] - placed[1])
    for region in regions:
        left, top = max(region[0], placed[0]), max(region[1], placed[1])
        right, bottom = min(region[2], placed[2]), min(region[3], placed[3])
        if right <= left or bottom <= top:
            continue
        common = (right - left) * (bottom - top)
        region_area = (region[2] - region[0]) * (region[3] - region[1])
        if region_area > MAX_SHARE * width * height:
            continue
        fills = common >= 0.8 * region_area and common >= 0.5 * placed_area
        if fills or common >= 0.8 * placed_area:
            return (round(left), round(top), round(right), round(bottom))
    return None
