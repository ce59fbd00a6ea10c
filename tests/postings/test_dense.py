"""The pixels under a fit: blocks in place for a copy, displaced for a scene, missing for another drawing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from img2img import verify_copy
from img2img.postings.dense import DEFAULT_DENSE_GUARD, DenseCheck, dense_check, judge_dense
from img2img.postings.features import SKETCH_SIDE, extract_features, mirrored
from img2img.postings.verify import Thresholds
from img2img.testing.drawings import drawing
from img2img.testing.edits import jpeg
from img2img.testing.reposts import apply_repost

KEYPOINTS_ALONE = Thresholds(dense=None)
IDENTITY = np.eye(3)


def sketch(image: Image.Image) -> np.ndarray:
    features = extract_features(image)
    assert features.sketch is not None
    return features.sketch


def test_a_sketch_is_kept_with_the_features_and_mirrored_with_them() -> None:
    art = drawing(3)
    features = extract_features(art)
    assert features.sketch is not None
    assert max(features.sketch.shape) == SKETCH_SIDE
    flipped = mirrored(features)
    assert flipped.sketch is not None
    assert np.array_equal(flipped.sketch, features.sketch[:, ::-1])


def test_a_copy_has_its_blocks_in_place() -> None:
    art = drawing(1)
    check = dense_check(sketch(art), art.size, sketch(jpeg(art, 60)), art.size, IDENTITY)
    assert check.blocks > 20
    assert check.in_place > 0.9
    assert judge_dense(check, DEFAULT_DENSE_GUARD, vouching=True) == ""


def test_a_part_moved_on_its_own_is_displaced(photos: dict[str, Image.Image]) -> None:
    # The lower half shifted 10 px: a nearer plane seen from another place.
    photo = photos["astronaut"].resize((640, 480))
    pixels = np.asarray(photo).copy()
    pixels[240:] = np.roll(pixels[240:], 10, axis=1)
    moved = Image.fromarray(pixels)
    check = dense_check(sketch(photo), photo.size, sketch(moved), photo.size, IDENTITY)
    assert check.displaced > 0.2
    assert "a few pixels away" in judge_dense(check, DEFAULT_DENSE_GUARD, vouching=False)


def test_another_drawing_on_the_same_place_is_missing() -> None:
    first, second = drawing(0), drawing(3)  # two comic strips
    check = dense_check(sketch(first), first.size, sketch(second), second.size, IDENTITY)
    assert check.missing > 0.5
    assert "different pictures" in judge_dense(check, DEFAULT_DENSE_GUARD, vouching=False)


def test_too_few_blocks_leave_the_keypoints_to_decide() -> None:
    few = DenseCheck(blocks=2, in_place=0.0, displaced=0.0, missing=1.0)
    assert judge_dense(few, DEFAULT_DENSE_GUARD, vouching=False) == ""
    assert judge_dense(few, DEFAULT_DENSE_GUARD, vouching=True) != ""


def test_features_without_a_sketch_are_judged_by_the_keypoints_alone() -> None:
    from dataclasses import replace

    art = drawing(4)
    query = replace(extract_features(jpeg(art, 50)), sketch=None)
    result = verify_copy(art, query)
    assert result.same == verify_copy(art, query, thresholds=KEYPOINTS_ALONE).same


def cached(image: Image.Image) -> Image.Image:
    """``image`` as the picture cache keeps it: a 512-pixel JPEG thumbnail."""
    from img2img.images import decode_image
    from img2img.postings.cache import encode_thumbnail

    return decode_image(encode_thumbnail(image))


def test_a_drawing_too_small_for_its_keypoints_is_verified_by_its_pixels() -> None:
    # A 120-pixel thumbnail of a cartoon: 9 keypoints agree, fewer than the 12 a
    # fit needs alone; the pixels under the fit agree all over.
    art = drawing(10)
    thumbnail = apply_repost(art, "thumb120")
    assert not verify_copy(thumbnail, cached(art), thresholds=KEYPOINTS_ALONE).same
    result = verify_copy(thumbnail, cached(art))
    assert result.same, result.reason
    assert result.relation == "copy"


def test_a_caller_s_stricter_coverage_holds_when_the_pixels_vouch() -> None:
    # The pixels stand in for the default coverage only: asking for more refuses the thin fit.
    art = drawing(10)
    thumbnail = apply_repost(art, "thumb120")
    assert verify_copy(thumbnail, cached(art)).same
    strict = verify_copy(thumbnail, cached(art), thresholds=Thresholds(min_coverage=0.99))
    assert not strict.same


def test_a_drawing_at_an_angle_is_verified_warped_when_its_keypoints_bunch() -> None:
    art = drawing(10)
    mockup = apply_repost(art, "perspective15", others=[drawing(20)], seed=3)
    result = verify_copy(mockup, cached(art))
    assert result.same, result.reason
    assert result.relation == "warped"


@pytest.mark.parametrize(("seed", "other"), [(34, 10003)])
def test_drawings_on_one_template_are_refused_by_their_pixels(seed: int, other: int) -> None:
    # Two logos with the same badge outline and word mark, two comic strips with
    # the same panels: enough corners agree for the keypoints, not what is drawn.
    query, candidate = jpeg(drawing(seed)), cached(drawing(other))
    assert verify_copy(query, candidate, thresholds=KEYPOINTS_ALONE).same
    result = verify_copy(query, candidate)
    assert not result.same
    assert "different pictures on one layout" in result.reason


def test_a_scene_with_a_nearer_sign_shot_from_two_places_is_refused(
    sign_before_wall: tuple[Image.Image, Image.Image],
) -> None:
    shots = list(sign_before_wall)
    first, second = shots
    features = [extract_features(shot) for shot in shots]
    check = dense_check(
        features[0].sketch, features[0].size, features[1].sketch, features[1].size, IDENTITY
    )
    assert check.moved > DEFAULT_DENSE_GUARD.max_moved
    for query, candidate in ((first, second), (second, first)):
        assert not verify_copy(query, candidate).same
