"""The pixels under a fit: do the two pictures agree where the fit lays one on the other?

Keypoints say *where* two pictures could be one; the pixels say whether they
are. Once a geometric fit is found, the candidate's small grey picture (its
*sketch*, kept with its features) is laid on the query's through the fit and
cut into blocks. Each block of the common area that has something drawn in it,
in either picture, is looked for in the other near where the fit puts it
(normalised cross-correlation, so brightness, contrast and recolouring do not
matter):

- **in place**: it matches where the fit puts it: the same picture;
- **displaced**: it matches only a few pixels away: a part of the scene that
  moved on its own, as a nearer floor or sign does when the camera moves
  (parallax), or a picture bent;
- **missing**: it matches nowhere near: different content (two drawings on one
  template share their panel borders, not what is in them), or an edit laid
  over the picture (a sticker, a caption).

A copy has most of its blocks in place and hardly any displaced; two shots of
a scene with depth have a part displaced; two drawings on one template have
most blocks missing. :func:`dense_check` measures; the verifier judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from img2img.postings.block_grid import (
    LOOK_CLEAR,
    MISSING,
    PASS,
    contrast_levels,
    grid,
    plan_blocks,
    windows_inside,
)
from img2img.postings.features import opencv

__all__ = [
    "BLOCK",
    "DEFAULT_DENSE_GUARD",
    "SEARCH",
    "DenseCheck",
    "DenseGuard",
    "dense_check",
    "judge_dense",
]

#: Side of a block, in sketch pixels (a twelfth of the long side).
BLOCK = 16
#: How far, in sketch pixels, a block is looked for around where the fit puts it.
SEARCH = 4
#: Least standard deviation of grey levels for a block to count as drawn in.
MIN_CONTRAST = 6.0
#: Least correlation for a block to match.
MATCH = 0.7
#: Fewest blocks found for a fit to be corrected by them.
MIN_REFIT_BLOCKS = 8
#: Most corrections of a fit by the blocks it finds.
REFITS = 2
#: Least correlation for a block to be found far from where the fit puts it.
FAR_MATCH = 0.8
#: Fewest blocks found far off, moved alike, to count as a part that moved.
MIN_MOVED_TOGETHER = 3
#: The deviations a block's is compared with: drawn in, clearly drawn in (worth
#: looking for far off), drawn in enough to be missing where the other side is flat.
_CONTRASTS = (MIN_CONTRAST, 2 * MIN_CONTRAST, 3 * MIN_CONTRAST)


@dataclass(frozen=True, slots=True)
class DenseCheck:
    """Blocks of the common area with something drawn in them, and what became of them.

    ``blocks`` counts them; ``in_place``, ``displaced`` and ``missing`` are
    shares of ``blocks`` (summing to 1 when ``blocks`` > 0). ``moved`` counts the
    missing blocks found far off, all moved alike (see :func:`_moved_far`).
    """

    blocks: int
    in_place: float
    displaced: float
    missing: float
    moved: int = 0
    #: Share of ``blocks`` drawn in both pictures that match nowhere near: other
    #: content, not a flat sticker or caption bar laid over a copy.
    unlike: float = 0.0
    #: The homography (3 x 3, candidate sketch -> query sketch pixels) the blocks were
    #: last sorted under: the fit, or the fit as the blocks corrected it.
    laid: npt.NDArray[np.float64] | None = field(default=None, compare=False, repr=False)
    #: ``False`` when sorting stopped once too few blocks could be in place for the
    #: caller (``enough`` of :func:`dense_check`): the shares are those of the blocks
    #: sorted, and ``in_place`` is above what the whole common area could have.
    complete: bool = True


def _scaling(sketch: npt.NDArray[np.uint8], frame: tuple[int, int]) -> npt.NDArray[np.float64]:
    """Matrix from working-frame pixels (``frame`` = width, height) to ``sketch`` pixels."""
    sx = sketch.shape[1] / frame[0]
    sy = sketch.shape[0] / frame[1]
    return np.diag([sx, sy, 1.0])


@dataclass(frozen=True, slots=True, eq=False)
class _Sorted:
    """One sorting of the blocks under a homography: the counts (``moved`` not yet
    looked for), the centres of the blocks found and where they were found (float32
    ``(n, 2)`` each, query sketch pixels), and what :func:`_moved_far` needs."""

    check: DenseCheck
    centres: npt.NDArray[np.float32]
    found: npt.NDArray[np.float32]
    laid: npt.NDArray[np.float32]
    inside: npt.NDArray[np.uint8]
    unmatched: list[tuple[int, int]]


@dataclass(frozen=True, slots=True, eq=False)
class _Query:
    """The query's sketch as every sorting of the blocks reads it: its grey levels as
    float32 (what the blocks are matched with), the grid of blocks, and how drawn in
    each block is (:func:`~img2img.postings.block_grid.contrast_levels` of
    :data:`_CONTRASTS`)."""

    pixels: npt.NDArray[np.uint8]
    grey: npt.NDArray[np.float32]
    tops: range
    lefts: range
    levels: npt.NDArray[np.int8]

    @classmethod
    def of(cls, query: npt.NDArray[np.uint8]) -> _Query:
        grey = query.astype(np.float32)
        tops, lefts = grid(query.shape, BLOCK, SEARCH)
        levels = contrast_levels(query, grey, tops, lefts, BLOCK, _CONTRASTS)
        return cls(query, grey, tops, lefts, levels)


def _sort_blocks(
    query: _Query,
    candidate: npt.NDArray[np.uint8],
    to_query: npt.NDArray[np.float64],
    enough: float | None = None,
) -> _Sorted:
    """The blocks under ``to_query`` (candidate sketch -> query sketch pixels); with
    ``enough``, only until fewer than that share of them can be in place."""
    cv2 = opencv()
    height, width = query.pixels.shape
    drawn = cv2.warpPerspective(
        candidate,
        to_query,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    laid = drawn.astype(np.float32)
    inside = cv2.warpPerspective(
        np.full(candidate.shape, 255, np.uint8), to_query, (width, height), flags=cv2.INTER_NEAREST
    )
    tops, lefts = query.tops, query.lefts
    plan = plan_blocks(
        windows_inside(inside, tops, lefts, BLOCK, SEARCH),
        query.levels,
        contrast_levels(drawn, laid, tops, lefts, BLOCK, _CONTRASTS),
    )
    in_place = displaced = missing = unlike = 0
    centres, found = [], []
    unmatched: list[tuple[int, int]] = []
    left_to_look = len(plan)
    complete = True
    for index, step in enumerate(plan):
        if enough is not None:
            # However the blocks not looked at yet turn out, the share in place is
            # at most what it is if each of them is a block in place.
            sorted_so_far = in_place + displaced + missing
            best = in_place + left_to_look
            if best < enough * (sorted_so_far + left_to_look):
                complete = False
                break
        left_to_look -= 1
        if step == PASS:
            continue
        if step == MISSING:
            missing += 1
            continue
        row, column = divmod(index, len(lefts))
        top, left = tops[row], lefts[column]
        window = laid[top - SEARCH : top + BLOCK + SEARCH, left - SEARCH : left + BLOCK + SEARCH]
        scores = cv2.matchTemplate(
            window, query.grey[top : top + BLOCK, left : left + BLOCK], cv2.TM_CCOEFF_NORMED
        )
        _, best_score, _, (x, y) = cv2.minMaxLoc(scores)
        if best_score < MATCH:
            missing += 1
            unlike += 1
            if step == LOOK_CLEAR:
                unmatched.append((left, top))
            continue
        # Within a pixel of where the fit puts it: the best match is, or another is.
        if (abs(x - SEARCH) <= 1 and abs(y - SEARCH) <= 1) or scores[
            SEARCH - 1 : SEARCH + 2, SEARCH - 1 : SEARCH + 2
        ].max() >= MATCH:
            in_place += 1
        else:
            displaced += 1
        centre = (left + BLOCK / 2, top + BLOCK / 2)
        centres.append(centre)
        found.append((centre[0] + x - SEARCH, centre[1] + y - SEARCH))
    blocks = in_place + displaced + missing
    share = [n / blocks if blocks else 0.0 for n in (in_place, displaced, missing, unlike)]
    return _Sorted(
        DenseCheck(blocks, share[0], share[1], share[2], 0, share[3], complete=complete),
        np.array(centres, np.float32).reshape(-1, 2),
        np.array(found, np.float32).reshape(-1, 2),
        laid,
        inside,
        unmatched,
    )


def _moved_far(
    query: npt.NDArray[np.float32],
    laid: npt.NDArray[np.float32],
    inside: npt.NDArray[np.uint8],
    unmatched: list[tuple[int, int]],
) -> int:
    """How many of the ``unmatched`` blocks (top-left corners in the query) are found
    far off, anywhere in the common area, all moved alike: a nearer part of a scene
    (a sign, a lamp post) moves as one when the camera moves, farther than
    :data:`SEARCH`, while a sticker or other content is found nowhere."""
    if len(unmatched) < MIN_MOVED_TOGETHER:
        return 0
    cv2 = opencv()
    shifts: list[tuple[int, int]] = []
    for looked, (left, top) in enumerate(unmatched):
        if len(shifts) + len(unmatched) - looked < MIN_MOVED_TOGETHER:
            return 0  # too few left to find for a part that moved
        scores = cv2.matchTemplate(
            laid, query[top : top + BLOCK, left : left + BLOCK], cv2.TM_CCOEFF_NORMED
        )
        _, best, _, (x, y) = cv2.minMaxLoc(scores)
        if best >= FAR_MATCH and inside[y + BLOCK // 2, x + BLOCK // 2]:
            shifts.append((x - left, y - top))
    if len(shifts) < MIN_MOVED_TOGETHER:
        return 0
    at = np.array(shifts, np.float64)
    together = (np.linalg.norm(at[:, None, :] - at[None, :, :], axis=2) <= SEARCH).sum(axis=1)
    most = int(together.max())
    return most if most >= MIN_MOVED_TOGETHER else 0


def dense_check(
    query: npt.NDArray[np.uint8],
    query_frame: tuple[int, int],
    candidate: npt.NDArray[np.uint8],
    candidate_frame: tuple[int, int],
    matrix: npt.NDArray[np.float64],
    *,
    correct: bool = False,
    enough: float | None = None,
) -> DenseCheck:
    """Lay ``candidate``'s sketch on ``query``'s through ``matrix`` and sort their blocks.

    ``query`` and ``candidate`` are sketches (uint8 ``(h, w)``) of pictures whose
    working frames are ``query_frame`` and ``candidate_frame`` (width, height);
    ``matrix`` (3 x 3) takes candidate working-frame points onto query ones, as
    :class:`~img2img.postings.fits.Fit` keeps it.

    A looser fit (``correct``: a homography) made from keypoints in one part of
    the frame can be a pixel or two off elsewhere. So when blocks are displaced, the fit
    is corrected by the homography most found blocks agree on (a small one: no
    found block moves by more than :data:`SEARCH` and a pixel), and the blocks sorted again
    (up to :data:`REFITS` times, while more blocks fall in place): a
    copy then has its blocks in place, while a part of a scene that moved on its
    own stays displaced.

    ``enough`` is the least share of blocks in place the caller accepts, when it
    refuses any fit with fewer: blocks found far off (``moved``) are then looked
    for only when that many are in place, and, without ``correct``, sorting stops
    as soon as fewer can be (the check is then not ``complete``).
    """
    cv2 = opencv()
    to_query = (
        _scaling(query, query_frame) @ matrix @ np.linalg.inv(_scaling(candidate, candidate_frame))
    )
    # A corrected fit may put more blocks in place than the first sorting found.
    mine = _Query.of(query)
    done = _sort_blocks(mine, candidate, to_query, None if correct else enough)
    check, centres, found = done.check, done.centres, done.found
    for _ in range(REFITS if correct else 0):
        if check.displaced == 0 or len(centres) < MIN_REFIT_BLOCKS:
            break
        correction, _ = cv2.findHomography(centres, found, cv2.RANSAC, 1.0)
        if correction is None or not np.isfinite(correction).all():
            break
        # Small where the blocks are: no found block moved by more than the search allows.
        moved = cv2.perspectiveTransform(centres.reshape(-1, 1, 2), correction).reshape(-1, 2)
        if np.abs(moved - centres).max() > SEARCH + 1:
            break
        corrected = np.linalg.inv(correction) @ to_query
        refined = _sort_blocks(mine, candidate, corrected)
        if refined.check.in_place <= check.in_place:
            break
        done, to_query = refined, corrected
        check, centres, found = done.check, done.centres, done.found
    if check.complete and (enough is None or check.in_place >= enough):
        check = replace(
            check,
            moved=_moved_far(mine.grey, done.laid, done.inside, done.unmatched),
        )
    return replace(check, laid=to_query)


@dataclass(frozen=True, slots=True)
class DenseGuard:
    """When the pixels under a fit confirm it, refute it, or vouch for a fit the
    keypoints found too thin. Chosen on the tuning pictures of
    ``benchmarks/guard_change.py``, checked on the held-out ones."""

    #: Fewest blocks drawn in the common area for the pixels to have a say.
    min_blocks: int = 6
    #: Largest share of blocks displaced: a copy has hardly any; a scene shot
    #: from two places has its nearer part displaced.
    max_displaced: float = 0.1
    #: Most blocks found far off, moved alike: a copy has none; a sign or a post
    #: nearer the camera than the wall behind it moves as one.
    max_moved: int = 3
    #: Least share of blocks in place for a fit the keypoints accept.
    min_in_place: float = 0.35
    #: Least share in place for the pixels to vouch for a fit the keypoints
    #: found too thin (too few agreeing, or too little of the area spanned).
    vouch_in_place: float = 0.75
    #: Largest share of blocks drawn in both pictures that match nowhere near
    #: (:attr:`DenseCheck.unlike`) for a fit the keypoints accept; 1.0 asks nothing.
    max_unlike: float = 1.0
    #: Share of the keypoints a fit needs alone (``min_inliers`` of the verifier's
    #: thresholds and of the warp guard) that a fit the pixels vouch for needs:
    #: 8 of the default 12 for a similarity; a caller's stricter count stays stricter.
    vouch_inliers: float = 2 / 3


DEFAULT_DENSE_GUARD = DenseGuard()


def judge_dense(check: DenseCheck, guard: DenseGuard, *, vouching: bool) -> str:
    """Why the pixels do not show the same picture under the fit, or ``""`` when they do.

    ``vouching``: the keypoints alone refused the fit, so the pixels must agree
    more (``vouch_in_place``) to accept it.
    """
    if check.blocks < guard.min_blocks and check.complete:
        return "" if not vouching else f"only {check.blocks} blocks drawn in the common area"
    least = guard.vouch_in_place if vouching else guard.min_in_place
    if not check.complete:
        return (
            f"too few of the common area's blocks can match under the fit "
            f"(< {least:.0%} of them): different pictures"
        )
    if check.displaced > guard.max_displaced:
        return (
            f"{check.displaced:.0%} of the common area's blocks match a few pixels away from "
            f"where the fit puts them (> {guard.max_displaced:.0%}), as a nearer part of a scene "
            "shot from another place"
        )
    if check.moved > guard.max_moved:
        return (
            f"{check.moved} blocks of the common area are found far from where the fit puts "
            f"them, all moved alike (> {guard.max_moved}), as a nearer part of a scene"
        )
    if check.unlike > guard.max_unlike:
        return (
            f"{check.unlike:.0%} of the common area's blocks are drawn in both pictures but "
            f"match nowhere near (> {guard.max_unlike:.0%}): other content, as another view "
            "of the scene shows"
        )
    if check.in_place < least:
        return (
            f"only {check.in_place:.0%} of the common area's blocks match under the fit "
            f"(< {least:.0%}): different pictures on one layout"
        )
    return ""
