"""Where one frame ends inside the other: a warped copy breaks there, a wall shot twice goes on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from img2img import verify_copy
from img2img.postings.features import extract_features, opencv
from img2img.postings.seams import (
    DEFAULT_SEAM_GUARD,
    LineCheck,
    SeamCheck,
    judge_seams,
    seam_check,
)
from img2img.postings.verify import DEFAULT_THRESHOLDS
from img2img.testing.edits import apply_edit, jpeg
from img2img.testing.reposts import apply_repost, perspective

NO_SEAMS = replace(DEFAULT_THRESHOLDS, seams=None)


def _wall_shot(
    wall: Image.Image, quad: list[tuple[float, float]], size: tuple[int, int]
) -> Image.Image:
    """What a camera sees of a flat ``wall`` when ``quad`` (in the wall's pixels) fills its frame."""
    cv2 = opencv()
    width, height = size
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(np.array(quad, np.float32), target)
    pixels = cv2.warpPerspective(np.asarray(wall), matrix, size, flags=cv2.INTER_LINEAR)
    return jpeg(Image.fromarray(pixels))


@pytest.fixture(scope="module")
def wall_twice(photos: dict[str, Image.Image]) -> tuple[Image.Image, Image.Image]:
    """One flat wall (a photo on it) shot from two places: the second from farther
    back and to the side, so the first shot's frame lies wholly inside it and the
    wall goes on around it."""
    wall = photos["coffee"].resize((1200, 800))
    near = _wall_shot(wall, [(330, 170), (900, 215), (880, 600), (310, 640)], (640, 480))
    far = _wall_shot(wall, [(40, 30), (1160, 60), (1150, 780), (30, 760)], (640, 480))
    return near, far


def test_a_wall_shot_twice_one_frame_inside_the_other_is_not_a_copy(
    wall_twice: tuple[Image.Image, Image.Image],
) -> None:
    near, far = wall_twice
    for query, candidate in ((near, far), (far, near)):
        # Every check of the keypoints and of the pixels under the fit passes: a plane
        # seen twice is one homography, and one frame lies inside the other.
        assert verify_copy(query, candidate, thresholds=NO_SEAMS).evidence.model == "perspective"
        assert verify_copy(query, candidate, thresholds=NO_SEAMS).same
        refused = verify_copy(query, candidate)
        assert not refused.same
        assert "go on across the edge" in refused.reason


def test_a_mockup_breaks_along_the_pictures_edge_and_stays_warped(
    photos: dict[str, Image.Image],
) -> None:
    photo = photos["astronaut"]
    corners = [(70.0, 40.0), (560.0, 80.0), (540.0, 470.0), (50.0, 500.0)]
    backdrop = apply_edit(photos["coffee"], "resize").resize((620, 540))
    mockup = jpeg(perspective(photo, corners, backdrop))
    for query, candidate in ((photo, mockup), (mockup, photo)):
        result = verify_copy(query, candidate)
        assert result.same, result.reason
        assert result.relation == "warped"


@pytest.mark.parametrize("form", ["perspective10", "perspective15"])
def test_reposts_seen_at_an_angle_stay_verified(photos: dict[str, Image.Image], form: str) -> None:
    others = [photos["rocket"], photos["chelsea"]]
    for name in ("chelsea", "coffee"):
        repost = apply_repost(photos[name], form, others=others, seed=5)
        result = verify_copy(repost, photos[name])
        assert result.same, (name, result.reason)


def test_the_seam_is_read_in_the_picture_that_holds_the_other(
    photos: dict[str, Image.Image],
) -> None:
    photo = photos["chelsea"]
    corners = [(60.0, 30.0), (520.0, 70.0), (500.0, 330.0), (40.0, 360.0)]
    mockup = jpeg(perspective(photo, corners, Image.new("RGB", (580, 400), (70, 70, 80))))
    result = verify_copy(photo, mockup)
    query, candidate = extract_features(photo), extract_features(mockup)
    assert query.sketch is not None
    assert candidate.sketch is not None
    # The fit from the evidence: the query's frame corners land on the drawn corners.
    placed = np.array(result.evidence.corners, np.float32) * candidate.shrink
    width, height = query.size
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    back = opencv().getPerspectiveTransform(frame, placed)
    check = seam_check(
        query.sketch, query.size, candidate.sketch, candidate.size, np.linalg.inv(back)
    )
    assert check.query.sides == ()  # the mockup covers the whole query: no line inside it
    assert len(check.candidate.sides) == 4
    share = check.candidate.breaks(DEFAULT_SEAM_GUARD.min_steps)
    assert share is not None
    assert share > 0.8
    assert judge_seams(check, DEFAULT_SEAM_GUARD) == ""


def test_a_stretch_has_no_line_inside_either_frame(photos: dict[str, Image.Image]) -> None:
    photo = photos["chelsea"]
    stretched = apply_repost(photo, "stretch1:1")
    query, candidate = extract_features(photo), extract_features(stretched)
    assert query.sketch is not None
    assert candidate.sketch is not None
    (w, h), (cw, ch) = query.size, candidate.size
    matrix = np.diag([w / cw, h / ch, 1.0])
    check = seam_check(query.sketch, query.size, candidate.sketch, candidate.size, matrix)
    assert check.query.sides == ()
    assert check.candidate.sides == ()
    assert verify_copy(photo, stretched).same


def test_a_crop_goes_on_past_its_edges_and_stays_a_copy(photos: dict[str, Image.Image]) -> None:
    # A similarity is never judged by its seams: a crop's picture goes on too.
    photo = photos["astronaut"]
    cropped = jpeg(photo.crop((100, 80, 420, 400)))
    result = verify_copy(cropped, photo)
    assert result.same
    assert result.relation == "copy"


def test_too_few_steps_say_nothing() -> None:
    few = SeamCheck(LineCheck(((10, 0.0), (12, 0.0))), LineCheck())
    assert judge_seams(few, DEFAULT_SEAM_GUARD) == ""
    going_on = SeamCheck(LineCheck(((200, 0.1), (150, 0.2))), LineCheck())
    assert "go on" in judge_seams(going_on, DEFAULT_SEAM_GUARD)
    either = SeamCheck(going_on.query, LineCheck(((90, 0.9), (80, 0.7), (85, 0.95))))
    assert judge_seams(either, DEFAULT_SEAM_GUARD) == ""


def test_one_side_along_an_edge_of_the_scene_is_no_seam() -> None:
    # The foot of a wall lying along one side: that side breaks, the others go on.
    foot = LineCheck(((125, 0.75), (68, 0.06), (63, 0.1)))
    assert foot.breaks(DEFAULT_SEAM_GUARD.min_steps) == pytest.approx(0.1)
    assert "go on" in judge_seams(SeamCheck(foot, LineCheck()), DEFAULT_SEAM_GUARD)
