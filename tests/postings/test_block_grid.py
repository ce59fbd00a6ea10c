"""The dense check's grid measured whole gives what a block-by-block look gives, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from img2img.postings import dense
from img2img.postings.block_grid import (
    LOOK,
    LOOK_CLEAR,
    MISSING,
    PASS,
    contrast_levels,
    grid,
    plan_blocks,
    windows_inside,
)
from img2img.postings.dense import BLOCK, SEARCH
from img2img.postings.features import extract_features
from img2img.testing.drawings import drawing
from img2img.testing.edits import jpeg
from img2img.testing.reposts import apply_repost

THRESHOLDS = (6.0, 12.0, 18.0)
#: A small turn and shift, as a fit lays a candidate's sketch on a query's.
TURNED = np.array([[0.98, -0.05, 6.0], [0.05, 0.98, -4.0], [0.0001, 0.0, 1.0]])


def sketch(image: Image.Image) -> np.ndarray:
    features = extract_features(image)
    assert features.sketch is not None
    return features.sketch


def levels_one_by_one(pixels: np.ndarray, tops: range, lefts: range) -> np.ndarray:
    grey = pixels.astype(np.float32)
    return np.array(
        [
            [
                sum(float(grey[t : t + BLOCK, left : left + BLOCK].std()) >= x for x in THRESHOLDS)
                for left in lefts
            ]
            for t in tops
        ]
    )


@pytest.fixture(scope="module")
def real_sketches(photos: dict[str, Image.Image]) -> list[np.ndarray]:
    pictures = [drawing(0), drawing(4), photos["astronaut"], photos["coffee"]]
    found = [sketch(p) for p in pictures]
    # As laid through a fit: interpolated grey levels, a border replicated.
    found += [
        cv2.warpPerspective(s, TURNED, s.shape[::-1], borderMode=cv2.BORDER_REPLICATE)
        for s in found
    ]
    return found


def test_block_levels_are_those_of_each_block_s_own_deviation(
    real_sketches: list[np.ndarray],
) -> None:
    for pixels in real_sketches:
        tops, lefts = grid(pixels.shape, BLOCK, SEARCH)
        found = contrast_levels(pixels, pixels.astype(np.float32), tops, lefts, BLOCK, THRESHOLDS)
        assert np.array_equal(found, levels_one_by_one(pixels, tops, lefts))


def test_a_deviation_on_a_threshold_is_decided_as_the_block_s_own_float32_deviation() -> None:
    # Half of each block at one grey, half at another, 2 * deviation apart: exactly on
    # a threshold, where float32 rounding decides; and a hair either side of it.
    rng = np.random.default_rng(3)
    pixels = np.zeros((3 * BLOCK + 2 * SEARCH, 9 * BLOCK + 2 * SEARCH), np.uint8)
    tops, lefts = grid(pixels.shape, BLOCK, SEARCH)
    for row, top in enumerate(tops):
        for column, left in enumerate(lefts):
            deviation = THRESHOLDS[column % 3]
            base = int(rng.integers(0, 200))
            cell = np.full((BLOCK, BLOCK), base, np.int32)
            cell[:, : BLOCK // 2] += int(2 * deviation)
            if column >= 3:  # one pixel nudged: just above or below the threshold
                cell[row, column % BLOCK] += 1 if column >= 6 else -1
            pixels[top : top + BLOCK, left : left + BLOCK] = cell
    found = contrast_levels(pixels, pixels.astype(np.float32), tops, lefts, BLOCK, THRESHOLDS)
    assert np.array_equal(found, levels_one_by_one(pixels, tops, lefts))


def test_windows_wholly_in_the_common_area_are_those_without_a_zero() -> None:
    inside = cv2.warpPerspective(
        np.full((150, 190), 255, np.uint8), TURNED, (192, 144), flags=cv2.INTER_NEAREST
    )
    tops, lefts = grid(inside.shape, BLOCK, SEARCH)
    expected = [
        [
            inside[t - SEARCH : t + BLOCK + SEARCH, left - SEARCH : left + BLOCK + SEARCH].min() > 0
            for left in lefts
        ]
        for t in tops
    ]
    found = windows_inside(inside, tops, lefts, BLOCK, SEARCH)
    assert found.tolist() == expected
    assert not found.all()
    assert found.any()


def test_the_grid_must_step_by_the_block_s_side() -> None:
    pixels = np.zeros((64, 64), np.uint8)
    with pytest.raises(ValueError, match="step"):
        contrast_levels(
            pixels, pixels.astype(np.float32), range(0, 48, 8), range(0, 48, 16), 16, THRESHOLDS
        )


def test_a_block_is_looked_for_when_drawn_in_on_both_sides() -> None:
    # Levels: 0 flat, 1 drawn in, 2 clearly (looked for far off too), 3 enough to be
    # missing where the other side is flat; a window not wholly in the common area passes.
    whole = np.array([[True] * 6 + [False]])
    mine = np.array([[0, 3, 0, 1, 2, 3, 3]], np.int8)
    theirs = np.array([[3, 0, 2, 1, 1, 3, 3]], np.int8)
    assert plan_blocks(whole, mine, theirs) == [
        MISSING,
        MISSING,
        PASS,
        LOOK,
        LOOK_CLEAR,
        LOOK_CLEAR,
        PASS,
    ]


def sorted_one_by_one(
    query: np.ndarray, candidate: np.ndarray, to_query: np.ndarray, enough: float | None
) -> tuple[int, int, int, int, int, bool]:
    """The blocks sorted as the rule says, one at a time: (in place, displaced, missing,
    unlike, unmatched, complete)."""
    height, width = query.shape
    laid = cv2.warpPerspective(
        candidate, to_query, (width, height), borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    inside = cv2.warpPerspective(
        np.full(candidate.shape, 255, np.uint8), to_query, (width, height), flags=cv2.INTER_NEAREST
    )
    mine = query.astype(np.float32)
    counts = [0, 0, 0, 0, 0]  # in place, displaced, missing, unlike, unmatched
    tops, lefts = grid(query.shape, BLOCK, SEARCH)
    left_to_look = len(tops) * len(lefts)
    for top in tops:
        for left in lefts:
            sorted_so_far = counts[0] + counts[1] + counts[2]
            if enough is not None and counts[0] + left_to_look < enough * (
                sorted_so_far + left_to_look
            ):
                return (*counts, False)  # type: ignore[return-value]
            left_to_look -= 1
            around = (
                slice(top - SEARCH, top + BLOCK + SEARCH),
                slice(left - SEARCH, left + BLOCK + SEARCH),
            )
            if inside[around].min() == 0:
                continue
            here = float(mine[top : top + BLOCK, left : left + BLOCK].std())
            there = float(laid[top : top + BLOCK, left : left + BLOCK].std())
            if here < 6 or there < 6:
                counts[2] += max(here, there) >= 18
                continue
            scores = cv2.matchTemplate(
                laid[around], mine[top : top + BLOCK, left : left + BLOCK], cv2.TM_CCOEFF_NORMED
            )
            if scores[SEARCH - 1 : SEARCH + 2, SEARCH - 1 : SEARCH + 2].max() >= 0.7:
                counts[0] += 1
            elif scores.max() >= 0.7:
                counts[1] += 1
            else:
                counts[2] += 1
                counts[3] += 1
                counts[4] += here >= 12
    return (*counts, True)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def pairs(photos: dict[str, Image.Image]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (sketch(drawing(0)), sketch(drawing(3))),  # one template, other drawings
        (sketch(drawing(1)), sketch(jpeg(drawing(1), 60))),  # a copy
        (sketch(photos["coffee"]), sketch(apply_repost(photos["coffee"], "stickers", seed=1))),
    ]


@pytest.mark.parametrize("enough", [None, 0.2, 0.5, 0.75, 0.95])
def test_blocks_are_sorted_and_stopped_as_one_at_a_time(
    enough: float | None, pairs: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    completes = []
    for query, candidate in pairs:
        for to_query in (np.eye(3), TURNED):
            done = dense._sort_blocks(dense._Query.of(query), candidate, to_query, enough)
            check = done.check
            in_place, displaced, missing, unlike, unmatched, complete = sorted_one_by_one(
                query, candidate, to_query, enough
            )
            blocks = in_place + displaced + missing
            completes.append(check.complete)
            assert (check.blocks, check.complete, len(done.unmatched)) == (
                blocks,
                complete,
                unmatched,
            )
            if blocks:
                assert (check.in_place, check.displaced, check.missing, check.unlike) == (
                    in_place / blocks,
                    displaced / blocks,
                    missing / blocks,
                    unlike / blocks,
                )
    assert all(completes) == (enough is None)  # some pairs stop early


def moved_one_by_one(
    query: np.ndarray, laid: np.ndarray, inside: np.ndarray, unmatched: list[tuple[int, int]]
) -> int:
    """Every unmatched block looked for over the whole laid sketch, none skipped."""
    shifts = []
    for left, top in unmatched:
        scores = cv2.matchTemplate(
            laid, query[top : top + BLOCK, left : left + BLOCK], cv2.TM_CCOEFF_NORMED
        )
        _, best, _, (x, y) = cv2.minMaxLoc(scores)
        if best >= 0.8 and inside[y + BLOCK // 2, x + BLOCK // 2]:
            shifts.append((x - left, y - top))
    if len(shifts) < 3:
        return 0
    at = np.array(shifts, np.float64)
    most = int((np.linalg.norm(at[:, None] - at[None], axis=2) <= SEARCH).sum(axis=1).max())
    return most if most >= 3 else 0


def test_blocks_moved_far_stop_once_too_few_are_left_to_be_found(
    sign_before_wall: tuple[Image.Image, Image.Image], photos: dict[str, Image.Image]
) -> None:
    # The sign's blocks are found far off; a sticker's nowhere. Looking stops once too
    # few blocks are left to be found, with the count a look at every block gives.
    query = sketch(sign_before_wall[0])
    stuck = sketch(apply_repost(sign_before_wall[0], "stickers", seed=2))
    sign = dense._sort_blocks(dense._Query.of(query), sketch(sign_before_wall[1]), np.eye(3))
    sticker = dense._sort_blocks(dense._Query.of(query), stuck, np.eye(3))
    assert len(sign.unmatched) >= 5
    assert len(sticker.unmatched) >= 2
    grey = query.astype(np.float32)
    rng = np.random.default_rng(0)
    seen = set()
    for done, other in ((sign, sticker), (sticker, sign)):
        blocks = done.unmatched + other.unmatched[:3]
        for _ in range(12):
            order = [blocks[i] for i in rng.permutation(len(blocks))][
                : rng.integers(3, len(blocks) + 1)
            ]
            moved = dense._moved_far(grey, done.laid, done.inside, order)
            assert moved == moved_one_by_one(grey, done.laid, done.inside, order)
            seen.add(moved > 0)
    assert seen == {True, False}
