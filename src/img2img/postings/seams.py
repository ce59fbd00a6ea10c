"""Where one picture's frame ends inside the other: a seam, or the scene going on.

A picture seen through a looser transform (a mockup, a photo of a screen or a
print) is a picture with an edge: where its frame ends inside the other
picture, something else begins (a backdrop, a bezel, a border, the desk under
a print), so the pixels break along that line. Two shots of one flat scene (a
wall, a facade) from two places relate by a homography too, and every block
of their common area is in place; but where one shot's frame ends inside the
other, the wall goes on: its texture continues across the line, alike on both
sides.

:func:`seam_check` walks the boundary of the two frames' common area wherever
it runs inside a picture (not along that picture's own edge), in both
pictures' sketches, and at each step compares the pixels across the line with
pixels as far apart on either side of it. A step where nothing is drawn on
either side says nothing either way. The verifier (:mod:`img2img.postings.verify`)
refuses a looser fit when in neither picture the line breaks along two of its
sides (:class:`SeamGuard`; one side of a scene's line can lie along an edge of
the scene, a picture's edge runs along all of them); a similarity is never
judged so, since a crop of a picture goes on past the crop's edges too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.postings.features import opencv

__all__ = [
    "DEFAULT_SEAM_GUARD",
    "LineCheck",
    "SeamCheck",
    "SeamGuard",
    "judge_seams",
    "seam_check",
    "sketch_seams",
]

#: Distances (sketch pixels) along the line's normal at which pixels are read:
#: inside the common area (negative) and beyond it (positive).
_OFFSETS = np.array([-7.0, -5.0, -3.0, -1.0, 1.0, 3.0, 5.0, 7.0])
#: Least distance (sketch pixels) of a read pixel from the picture's own edge:
#: the common area's boundary along a frame's edge is no seam.
MARGIN = 2.0
#: Least difference of grey levels, across or beside the line, for a step to have a say.
MIN_CONTRAST = 4.0
#: A step breaks when the pixels across the line differ this many times more than
#: pixels as far apart on lines beside it usually do (the median of six such
#: pairs, three each side: a thin frame or a paper's margin along the edge is one
#: of them), plus :data:`MIN_CONTRAST`.
BREAK = 2.0


@dataclass(frozen=True, slots=True)
class LineCheck:
    """The common area's boundary inside one picture, side by side.

    ``sides`` holds, for each of the other frame's four sides that runs inside
    this picture, the steps along it with something drawn near them (a say) and
    the share of those where the pixels break across the line.
    """

    sides: tuple[tuple[int, float], ...] = ()

    def breaks(self, min_steps: int) -> float | None:
        """The share of breaking steps on the side that breaks second most, among the
        sides with at least ``min_steps`` steps with a say (the only one's, if one);
        ``None`` when no side has that many.

        A picture's edge runs all round it, so a warped copy breaks along every side
        that runs inside the other picture; a scene goes on across them, save where
        one side happens to lie along an edge of the scene (the foot of a wall).
        """
        counted = sorted((share for steps, share in self.sides if steps >= min_steps), reverse=True)
        if not counted:
            return None
        return counted[1] if len(counted) > 1 else counted[0]


@dataclass(frozen=True, slots=True)
class SeamCheck:
    """The common area's boundary inside the query and inside the candidate."""

    query: LineCheck
    candidate: LineCheck


@dataclass(frozen=True, slots=True)
class SeamGuard:
    """When a looser fit's pixels go on across its frame's edge, as a scene does.
    Chosen on the tuning pictures of ``benchmarks/guard_change.py``, checked on the
    held-out ones and on its pairs of one flat scene shot from two places."""

    #: Fewest steps with a say for a side of the line to count.
    min_steps: int = 24
    #: Least share of breaking steps (see :meth:`LineCheck.breaks`) for a seam; a fit
    #: is refused when neither picture has one and at least one has a side that counts.
    #: Warped copies of the tuning pictures: 0.52 and more; one flat scene shot from
    #: two places, and crops of the other view of a stereo pair: 0.36 at most.
    min_breaks: float = 0.45


DEFAULT_SEAM_GUARD = SeamGuard()


def _scaling(sketch: npt.NDArray[np.uint8], frame: tuple[int, int]) -> npt.NDArray[np.float64]:
    return np.diag([sketch.shape[1] / frame[0], sketch.shape[0] / frame[1], 1.0])


def _outline(
    matrix: npt.NDArray[np.float64], other: tuple[int, int]
) -> npt.NDArray[np.float64] | None:
    """The ``other`` frame's corners through ``matrix`` (3 x 3), or ``None`` when one goes to infinity."""
    width, height = other
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], np.float64)
    placed = corners @ matrix.T
    if (np.abs(placed[:, 2]) < 1e-9).any() or not ((placed[:, 2] > 0).all()):
        return None
    out: npt.NDArray[np.float64] = placed[:, :2] / placed[:, 2:3]
    return out if np.isfinite(out).all() else None


def _lines(sketch: npt.NDArray[np.uint8], outline: npt.NDArray[np.float64]) -> LineCheck:
    """Walk ``outline`` (four corners in ``sketch`` pixels) where it runs inside ``sketch``."""
    cv2 = opencv()
    height, width = sketch.shape
    centre = outline.mean(axis=0)
    points, normals, sides = [], [], []
    for side, (start, end) in enumerate(zip(outline, np.roll(outline, -1, axis=0), strict=True)):
        length = float(np.linalg.norm(end - start))
        if length < 1:
            continue
        count = int(length)
        at = start + ((np.arange(count) + 0.5) / count)[:, None] * (end - start)
        normal = np.array([end[1] - start[1], start[0] - end[0]]) / length
        if float(np.dot(normal, (start + end) / 2 - centre)) < 0:
            normal = -normal  # pointing out of the common area
        points.append(at)
        normals.append(np.repeat(normal[None, :], count, axis=0))
        sides.append(np.full(count, side))
    if not points:
        return LineCheck()
    at = np.vstack(points)
    normal = np.vstack(normals)
    # Pixel centres: sketch pixel i covers [i, i + 1).
    reads = at[:, None, :] + _OFFSETS[None, :, None] * normal[:, None, :] - 0.5
    inside = (
        (reads[..., 0] >= MARGIN - 0.5)
        & (reads[..., 0] <= width - 0.5 - MARGIN)
        & (reads[..., 1] >= MARGIN - 0.5)
        & (reads[..., 1] <= height - 0.5 - MARGIN)
    ).all(axis=1)
    reads, side_of = reads[inside], np.concatenate(sides)[inside]
    if not len(reads):
        return LineCheck()
    values = cv2.remap(
        sketch.astype(np.float32),
        reads[..., 0].astype(np.float32),
        reads[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
    ).astype(np.float64)
    gaps = np.abs(np.diff(values, axis=1))  # pixels two apart, from the inside out
    middle = len(_OFFSETS) // 2 - 1
    across = gaps[:, middle]
    beside = np.median(np.delete(gaps, middle, axis=1), axis=1)
    said = gaps.max(axis=1) >= MIN_CONTRAST
    breaks = across > BREAK * beside + MIN_CONTRAST
    found = []
    for side in range(4):
        here = said & (side_of == side)
        if here.any():
            found.append((int(here.sum()), float(breaks[here].mean())))
    return LineCheck(tuple(found))


def seam_check(
    query: npt.NDArray[np.uint8],
    query_frame: tuple[int, int],
    candidate: npt.NDArray[np.uint8],
    candidate_frame: tuple[int, int],
    matrix: npt.NDArray[Any],
) -> SeamCheck:
    """Walk the common area's boundary inside each picture and say where it breaks.

    ``query`` and ``candidate`` are sketches (uint8 ``(h, w)``) of pictures whose
    working frames are ``query_frame`` and ``candidate_frame`` (width, height);
    ``matrix`` (3 x 3) takes candidate working-frame points onto query ones, as
    :class:`~img2img.postings.fits.Fit` keeps it. Inside the query the boundary
    is the candidate's frame laid on it, inside the candidate the query's.
    """
    to_query = (
        _scaling(query, query_frame) @ matrix @ np.linalg.inv(_scaling(candidate, candidate_frame))
    )
    return sketch_seams(query, candidate, to_query)


def sketch_seams(
    query: npt.NDArray[np.uint8], candidate: npt.NDArray[np.uint8], to_query: npt.NDArray[Any]
) -> SeamCheck:
    """:func:`seam_check` with the fit given between the sketches' own pixels
    (``to_query``: candidate sketch -> query sketch), as the dense check lays them
    (:attr:`~img2img.postings.dense.DenseCheck.laid`, the fit its blocks corrected)."""
    checks = []
    for sketch, towards, other in (
        (query, to_query, candidate),
        (candidate, np.linalg.inv(to_query), query),
    ):
        outline = _outline(towards, (other.shape[1], other.shape[0]))
        checks.append(LineCheck() if outline is None else _lines(sketch, outline))
    return SeamCheck(checks[0], checks[1])


def judge_seams(check: SeamCheck, guard: SeamGuard) -> str:
    """Why the pixels go on across the frame's edge as a scene's do, or ``""``: a seam in
    either picture, or no side with a say in both, leaves the fit to the other checks."""
    shares = [
        share
        for share in (check.query.breaks(guard.min_steps), check.candidate.breaks(guard.min_steps))
        if share is not None
    ]
    if not shares or max(shares) >= guard.min_breaks:
        return ""
    return (
        f"the pixels go on across the edge of the common area (at most {max(shares):.0%} "
        f"of the steps along a side break, < {guard.min_breaks:.0%}), as one scene shot "
        "from two places does; a warped copy ends at its own edge"
    )
