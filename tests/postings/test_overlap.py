"""Partly overlapping cuts are two pictures; a crop, an inset, a border are not."""

from __future__ import annotations

import pytest
from PIL import Image

from img2img.models import Evidence
from img2img.postings.judge import Judge, Picture
from img2img.postings.overlap import MIN_SHARED, overlap_reason, shared_share
from img2img.postings.verify import verify_copy
from img2img.testing.edits import apply_edit


def _placed(corners: list[tuple[float, float]], frame: tuple[int, int]) -> Evidence:
    return Evidence(inliers=40, coverage=0.8, residual=0.3, corners=tuple(corners), frame=frame)


def test_a_crop_lies_inside_its_original() -> None:
    # The posting is a crop: the query's frame reaches past the posting's on every side.
    crop = _placed([(-50, -40), (350, -40), (350, 260), (-50, 260)], (200, 150))
    assert shared_share(crop) == pytest.approx(1.0)
    assert overlap_reason(crop) == ""


def test_a_picture_inset_in_a_larger_frame_lies_inside_it() -> None:
    # The posting adds a border or a caption, or is the picture turned in a larger frame.
    turned = _placed([(60, 20), (380, 80), (340, 300), (20, 240)], (400, 320))
    assert shared_share(turned) == pytest.approx(1.0)


def test_cuts_sharing_a_strip_share_a_fraction_of_the_smaller() -> None:
    # The query's frame (300 x 200) sits 240 px to the left: a 60 px strip is common.
    strip = _placed([(-240, 0), (60, 0), (60, 200), (-240, 200)], (300, 200))
    assert shared_share(strip) == pytest.approx(0.2)
    assert "overlap in part" in overlap_reason(strip)
    assert overlap_reason(strip, least=0.1) == ""


def test_no_placed_frame_says_nothing() -> None:
    assert shared_share(Evidence(inliers=0, coverage=0.0, residual=9.0)) is None
    flat = _placed([(0, 0), (10, 0), (20, 0), (30, 0)], (100, 100))
    assert shared_share(flat) is None
    assert overlap_reason(flat) == ""


@pytest.fixture(scope="module")
def astronaut(photos: dict[str, Image.Image]) -> Image.Image:
    photo = photos["astronaut"]
    return photo.resize((photo.width * 2, photo.height * 2), Image.Resampling.BICUBIC)


def test_the_judge_refuses_cuts_of_one_photo_sharing_a_strip(astronaut: Image.Image) -> None:
    first = astronaut.crop((300, 250, 700, 650))
    second = astronaut.crop((600, 250, 1000, 650))  # the right quarter of the first
    assert verify_copy(first, second).same  # the strip fits exactly: the fit alone accepts

    judgement = Judge(Picture(first)).judge(Picture(second))

    assert not judgement.same
    assert "overlap in part" in judgement.reason
    assert judgement.evidence is not None
    share = shared_share(judgement.evidence)
    assert share is not None
    assert share < MIN_SHARED


@pytest.mark.parametrize("edit", ["crop70", "crop90", "border", "rotate+10", "text"])
def test_the_judge_keeps_a_crop_and_a_framed_copy(astronaut: Image.Image, edit: str) -> None:
    first = astronaut.crop((300, 250, 700, 650))
    edited = apply_edit(first, edit, seed=2)
    judge = Judge(Picture(first))

    assert judge.judge(Picture(edited)).relation == "copy"
    assert Judge(Picture(edited)).judge(Picture(first)).relation == "copy"  # either way round
