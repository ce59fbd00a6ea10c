"""Screens: work whose outcome is known in advance is skipped, and no verdict changes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image

from img2img import verify_copy
from img2img.postings.dense import DEFAULT_DENSE_GUARD, dense_check, judge_dense
from img2img.postings.features import extract_features
from img2img.postings.screens import DEFAULT_SCREENS
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds
from img2img.testing.drawings import drawing
from img2img.testing.edits import jpeg
from img2img.testing.reposts import apply_repost

ALL_THE_WORK = replace(DEFAULT_THRESHOLDS, screens=None)
IDENTITY = np.eye(3)
ENOUGH = DEFAULT_DENSE_GUARD.vouch_in_place


def sketches(first: Image.Image, second: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    a, b = extract_features(first), extract_features(second)
    assert a.sketch is not None
    assert b.sketch is not None
    return a.sketch, b.sketch


def test_no_perspective_fit_is_tried_after_an_affine_fit_of_chance_matches(
    photos: dict[str, Image.Image],
) -> None:
    # Two unrelated photos with 40-odd ratio-test pairs: the affine fit finds 6 of
    # them agreeing, fewer than any looser fit needs; the perspective is not searched.
    query, candidate = photos["hubble_deep_field"], photos["coffee"]
    screened = verify_copy(query, candidate)
    full = verify_copy(query, candidate, thresholds=ALL_THE_WORK)
    assert not screened.same
    assert not full.same
    assert "perspective" in full.reason
    assert "perspective" not in screened.reason
    assert "affine" in screened.reason


def test_a_photo_of_a_screen_is_still_found_warped(photos: dict[str, Image.Image]) -> None:
    mockup = apply_repost(photos["coffee"], "perspective15", seed=2)
    result = verify_copy(photos["coffee"], mockup)
    assert result.same, result.reason
    assert result.evidence.model == "perspective"


def test_the_screen_counts_no_more_than_a_looser_fit_needs(photos: dict[str, Image.Image]) -> None:
    # A caller asking for fewer agreeing keypoints lowers the count screen with them
    # (6 of the 40-odd pairs agree with the affine fit: the share screen alone
    # would skip the perspective fit, so it is left out here).
    counts_only = replace(DEFAULT_SCREENS, least_affine_share_for_perspective=None)
    lenient = Thresholds(min_inliers=6, screens=counts_only)
    query, candidate = photos["hubble_deep_field"], photos["coffee"]
    assert DEFAULT_SCREENS.least_affine_for_perspective == 8
    assert "perspective" in verify_copy(query, candidate, thresholds=lenient).reason


def test_no_perspective_fit_is_tried_after_an_affine_fit_of_a_small_share_of_many_pairs(
    photos: dict[str, Image.Image],
) -> None:
    # 345 chance pairs, 9 of them agreeing with the affine fit: enough by count,
    # a fortieth by share.
    query, candidate = photos["hubble_deep_field"], photos["clock"]
    counts_only = replace(DEFAULT_SCREENS, least_affine_share_for_perspective=None)
    screened = verify_copy(query, candidate)
    by_count = verify_copy(
        query, candidate, thresholds=replace(DEFAULT_THRESHOLDS, screens=counts_only)
    )
    assert not screened.same
    assert not by_count.same
    assert "perspective" in by_count.reason
    assert "perspective" not in screened.reason


def test_the_perspective_screen_asks_for_a_count_and_a_share() -> None:
    screens = DEFAULT_SCREENS
    assert screens.least_affine_share_for_perspective == 0.2
    assert screens.tries_perspective(affine_inliers=20, matches=100, least_inliers=20)
    assert not screens.tries_perspective(affine_inliers=19, matches=100, least_inliers=20)
    assert not screens.tries_perspective(affine_inliers=7, matches=20, least_inliers=20)
    assert screens.tries_perspective(affine_inliers=6, matches=20, least_inliers=6)
    no_share = replace(screens, least_affine_share_for_perspective=None)
    assert no_share.tries_perspective(affine_inliers=9, matches=345, least_inliers=20)
    assert not screens.tries_perspective(affine_inliers=9, matches=345, least_inliers=20)


def test_the_pixels_of_a_thin_fit_stop_once_too_few_blocks_can_match() -> None:
    first, second = sketches(drawing(0), drawing(3))  # two comic strips on one layout
    full = dense_check(first, drawing(0).size, second, drawing(3).size, IDENTITY)
    stopped = dense_check(first, drawing(0).size, second, drawing(3).size, IDENTITY, enough=ENOUGH)
    assert full.complete
    assert not stopped.complete
    assert stopped.blocks < full.blocks
    assert judge_dense(full, DEFAULT_DENSE_GUARD, vouching=True) != ""
    assert "too few" in judge_dense(stopped, DEFAULT_DENSE_GUARD, vouching=True)


def test_a_copy_s_pixels_are_sorted_whole_with_or_without_enough() -> None:
    art = drawing(1)
    first, second = sketches(art, jpeg(art, 60))
    full = dense_check(first, art.size, second, art.size, IDENTITY)
    stopped = dense_check(first, art.size, second, art.size, IDENTITY, enough=ENOUGH)
    assert stopped.complete
    assert (stopped.blocks, stopped.in_place, stopped.moved) == (
        full.blocks,
        full.in_place,
        full.moved,
    )
    assert judge_dense(stopped, DEFAULT_DENSE_GUARD, vouching=True) == ""


def test_blocks_moved_far_are_looked_for_only_when_enough_are_in_place(
    sign_before_wall: tuple[Image.Image, Image.Image],
) -> None:
    # The sign's blocks are found 30 px off, moved alike. Asked for more blocks in place
    # than the wall has, the check does not look for them; the verdict (refused) is the same.
    shots = sign_before_wall
    first, second = sketches(*shots)
    full = dense_check(first, shots[0].size, second, shots[1].size, IDENTITY)
    assert full.moved > DEFAULT_DENSE_GUARD.max_moved
    beyond = min(1.0, full.in_place + 0.01)
    asked = dense_check(first, shots[0].size, second, shots[1].size, IDENTITY, enough=beyond)
    assert asked.moved == 0
    strict = replace(DEFAULT_DENSE_GUARD, vouch_in_place=beyond)
    assert judge_dense(full, strict, vouching=True) != ""
    assert judge_dense(asked, strict, vouching=True) != ""
