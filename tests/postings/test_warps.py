"""Looser fits: a stretched picture or a photo of a screen is ``warped``, a scene seen twice is not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from img2img import verify_copy
from img2img.cli.postings_tables import posting_json
from img2img.models import Evidence, Match, Posting
from img2img.postings.verify import Thresholds
from img2img.postings.warps import corner_angles
from img2img.testing.edits import apply_edit, bend, jpeg
from img2img.testing.reposts import REPOSTS, apply_repost, perspective


def test_a_photo_of_a_screen_is_the_same_picture_warped(photos: dict[str, Image.Image]) -> None:
    photo = photos["chelsea"]
    corners = [(60.0, 30.0), (520.0, 70.0), (500.0, 330.0), (40.0, 360.0)]
    mockup = jpeg(perspective(photo, corners, Image.new("RGB", (580, 400), (70, 70, 80))))
    result = verify_copy(photo, mockup)
    assert result.same, result.reason
    assert result.evidence.model == "perspective"
    assert result.relation == "warped"
    # The query's corners land where the picture was drawn, in the mockup's pixels.
    placed = np.array(result.evidence.corners)
    assert np.abs(placed - np.array(corners)).max() < 6


def test_a_picture_stretched_to_a_square_is_warped_by_an_affine_fit(
    photos: dict[str, Image.Image],
) -> None:
    result = verify_copy(photos["chelsea"], apply_repost(photos["chelsea"], "stretch1:1"))
    assert result.same, result.reason
    assert result.evidence.model == "affine"


def test_without_a_warp_guard_only_a_similarity_is_tried(photos: dict[str, Image.Image]) -> None:
    mockup = apply_repost(photos["coffee"], "perspective12", seed=2)
    assert verify_copy(photos["coffee"], mockup).same
    refused = verify_copy(photos["coffee"], mockup, thresholds=Thresholds(warp=None))
    assert not refused.same
    assert refused.evidence.model == "similarity"


def test_a_plain_copy_stays_a_similarity_with_its_corners(photos: dict[str, Image.Image]) -> None:
    result = verify_copy(photos["astronaut"], apply_edit(photos["astronaut"], "resize"))
    assert result.same
    assert result.relation == "copy"
    assert result.evidence.model == "similarity"
    width, height = photos["astronaut"].size
    assert result.evidence.corners is not None
    (x0, y0), _, (x2, y2), _ = result.evidence.corners
    assert max(abs(x0), abs(y0)) < 3
    # The posting is half the size, so the query's far corner is at half its own.
    assert max(abs(x2 - width / 2), abs(y2 - height / 2)) < 3


def test_the_stereo_pair_stays_refused(
    motorcycle_views: tuple[Image.Image, Image.Image],
) -> None:
    left, right = motorcycle_views
    for query, candidate in ((left, right), (right, left)):
        result = verify_copy(query, candidate)
        assert not result.same, result.evidence
        assert result.reason


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])
def test_bent_photos_stay_refused(photos: dict[str, Image.Image], name: str) -> None:
    bent = apply_edit(bend(photos[name], 6, seed=1), "jpeg70")
    result = verify_copy(photos[name], bent)
    assert not result.same, result.evidence


def test_a_folded_or_concave_quadrilateral_is_not_a_plausible_frame() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    angles = corner_angles(square)
    assert angles is not None
    assert np.allclose(angles, 90)
    assert corner_angles(np.array([[0, 0], [10, 0], [3, 3], [0, 10]], float)) is None
    assert corner_angles(np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float)) is None


def test_a_copy_with_a_looser_fit_is_posted_as_warped_and_shows_in_json() -> None:
    evidence = Evidence(
        inliers=40,
        coverage=0.8,
        residual=0.4,
        model="perspective",
        corners=((1.0, 2.0), (30.0, 2.0), (30.0, 20.0), (1.0, 20.0)),
    )
    match = Match(id="a", score=0.9, metadata={"image_url": "https://example.com/a.jpg"})
    posting = Posting.from_match(match, "copy", evidence)
    assert posting.relation == "warped"
    data = posting_json(posting)
    assert data["relation"] == "warped"
    assert data["evidence"]["model"] == "perspective"
    assert [list(corner) for corner in data["evidence"]["corners"]][1] == [30.0, 2.0]
    plain = Posting.from_match(match, "copy", Evidence(inliers=40, coverage=0.8, residual=0.4))
    assert plain.relation == "copy"


def test_every_repost_form_makes_an_rgb_picture_and_repeats(
    photos: dict[str, Image.Image],
) -> None:
    others = [photos[n] for n in ("astronaut", "coffee", "rocket")] * 3
    for form in REPOSTS:
        first = apply_repost(photos["chelsea"], form, others=others, seed=4)
        again = apply_repost(photos["chelsea"], form, others=others, seed=4)
        assert first.mode == "RGB", form
        assert np.array_equal(np.asarray(first), np.asarray(again)), form


def test_an_unknown_repost_form_is_a_key_error(photos: dict[str, Image.Image]) -> None:
    with pytest.raises(KeyError):
        apply_repost(photos["chelsea"], "sepia")


def test_the_table_says_which_fit_and_where() -> None:
    from rich.console import Console

    from img2img.cli.postings_tables import postings_table

    evidence = Evidence(
        inliers=40,
        coverage=0.8,
        residual=0.4,
        model="affine",
        corners=((0.0, 0.0), (300.0, 0.0), (300.0, 300.0), (0.0, 300.0)),
        frame=(600, 400),
    )
    posting = Posting.from_match(Match(id="a", score=0.9), "copy", evidence)
    console = Console(width=200, record=True)
    console.print(postings_table([posting]))
    text = console.export_text()
    assert "warped" in text
    assert "affine fit" in text
    assert "at 0%-50% across, 0%-75% down" in text


def test_two_parts_moving_apart_are_a_scene_not_a_copy(photos: dict[str, Image.Image]) -> None:
    # A nearer plane moves otherwise than the wall behind it when the camera moves:
    # here the right part of the frame is shifted 30 px against the left.
    photo = photos["astronaut"].resize((512, 512))
    pixels = np.asarray(photo).copy()
    pixels[:, 256:] = np.roll(pixels[:, 256:], 30, axis=0)
    moved = jpeg(Image.fromarray(pixels))
    result = verify_copy(photo, moved)
    assert not result.same
    assert "another motion" in result.reason
    # The keypoints' check is what refuses it (the pixels under the fit would too).
    loose = Thresholds(max_second_motion=float("inf"), dense=None)
    assert verify_copy(photo, moved, thresholds=loose).same
    assert not verify_copy(photo, moved, thresholds=Thresholds(max_second_motion=float("inf"))).same
