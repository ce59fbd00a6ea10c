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

from img2img.models import Evidence

__all__ = ["MIN_SHARED", "overlap_reason", "shared_share"]

#: Least share of the smaller frame that both frames must show. Measured on
#: ``benchmarks/duplicates_real.py``'s 600 pictures: of 555 planted pairs the
#: verifier accepted, two shared less than 0.88 (0.36: two crops of 70 %, which
#: join a group through their original); of 43 pairs of postings of cuts sharing a
#: strip it accepted, 40 shared 0.18-0.68 (a cut turned in a larger frame shares
#: more of it than of the cut).
MIN_SHARED = 0.75


def shared_share(evidence: Evidence) -> float | None:
    """The share (0..1) of the smaller of the two frames that lies inside the other
    under the fit; ``None`` when the evidence does not place the query's frame in
    the posting's (no fit, or a degenerate one)."""
    import cv2  # OpenCV is imported when pictures are compared, not with the package
    import numpy as np

    corners, frame = evidence.corners, evidence.frame
    if not corners or len(corners) < 3 or not frame or min(frame) <= 0:
        return None
    # The query's frame under the fit is convex (a parallelogram, or a homography's
    # quadrilateral that the verifier's guard found convex), as is the posting's.
    quad = np.asarray(corners, dtype=np.float32)
    query_area = abs(float(cv2.contourArea(quad)))
    if query_area <= 0:
        return None
    width, height = frame
    rectangle = np.asarray([(0, 0), (width, 0), (width, height), (0, height)], dtype=np.float32)
    if cv2.contourArea(quad, oriented=True) < 0:  # intersectConvexConvex wants one winding
        quad = quad[::-1].copy()
    common, _ = cv2.intersectConvexConvex(quad, rectangle)
    return min(1.0, max(0.0, float(common)) / min(query_area, width * height))


def overlap_reason(evidence: Evidence, least: float = MIN_SHARED) -> str:
    """Why the fit does not show one picture (its frames overlap only in part), or ``""``."""
    share = shared_share(evidence)
    if share is None or share >= least:
        return ""
    return (
        f"the frames share {share:.0%} of the smaller one (< {least:.0%}): two pictures "
        "that overlap in part, neither inside the other"
    )
