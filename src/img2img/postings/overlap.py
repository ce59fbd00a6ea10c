"""Whether one picture's frame lies inside the other's: partly overlapping cuts are two pictures.

A copy shows its original whole (resized, turned, bordered, captioned) or a
part of it (a crop; an inset or a collage's tile, as composites): under the
fit, one frame lies inside the other, so the part both show is all, or nearly
all, of the smaller frame. Two cuts of one photo that share a strip (15-25 %
of their area) fit exactly on that strip too: every keypoint there agrees, and
the verifier's coverage, measured over the common part only, is full. What
tells them apart is the share of the smaller frame that the common part is.
The judge (:mod:`img2img.postings.judge`) refuses a fit whose frames share less
than :data:`MIN_SHARED` of the smaller one, for every caller alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from img2img.models import Evidence

__all__ = ["MIN_SHARED", "overlap_reason", "shared_share"]

#: Least share of the smaller frame that both frames must show. Measured on
#: ``benchmarks/duplicates_real.py``'s 600 pictures: of 555 planted pairs the
#: verifier accepted, two shared less than 0.88 (0.36: two crops of 70 %, which
#: join a group through their original); of 43 pairs of postings of cuts sharing a
#: strip it accepted, 40 shared 0.18-0.68 (a cut turned in a larger frame shares
#: more of it than of the cut).
MIN_SHARED = 0.75

Point = tuple[float, float]


def _area(polygon: Sequence[Point]) -> float:
    """Area of a simple polygon (the shoelace formula; 0 for fewer than three corners)."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(polygon, [*polygon[1:], *polygon[:1]], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def _clip(polygon: Sequence[Point], width: float, height: float) -> list[Point]:
    """``polygon`` cut to the frame ``0 <= x <= width, 0 <= y <= height`` (Sutherland-Hodgman)."""
    points = list(polygon)
    # Each side of the frame: the axis it bounds, where, and whether inside is below it.
    for axis, at, below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):

        def inside(point: Point, axis: int = axis, at: float = at, below: bool = below) -> bool:
            return point[axis] <= at if below else point[axis] >= at

        kept: list[Point] = []
        for current, following in zip(points, [*points[1:], *points[:1]], strict=True):
            if inside(current):
                kept.append(current)
            if inside(current) != inside(following):  # the edge crosses the side: where
                t = (at - current[axis]) / (following[axis] - current[axis])
                kept.append(
                    (
                        current[0] + t * (following[0] - current[0]),
                        current[1] + t * (following[1] - current[1]),
                    )
                )
        points = kept
        if not points:
            break
    return points


def shared_share(evidence: Evidence) -> float | None:
    """The share (0..1) of the smaller of the two frames that lies inside the other
    under the fit; ``None`` when the evidence does not place the query's frame in
    the posting's (no fit, or a degenerate one)."""
    corners, frame = evidence.corners, evidence.frame
    if not corners or len(corners) < 3 or not frame or min(frame) <= 0:
        return None
    query_area = _area(corners)
    if query_area <= 0:
        return None
    width, height = frame
    common = _area(_clip(corners, width, height))
    return min(1.0, common / min(query_area, width * height))


def overlap_reason(evidence: Evidence, least: float = MIN_SHARED) -> str:
    """Why the fit does not show one picture (its frames overlap only in part), or ``""``."""
    share = shared_share(evidence)
    if share is None or share >= least:
        return ""
    return (
        f"the frames share {share:.0%} of the smaller one (< {least:.0%}): two pictures "
        "that overlap in part, neither inside the other"
    )
