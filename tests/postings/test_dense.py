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


def test_a_part_moved_on_its_own_is_displaced() -> None:
    # The lower half shifted 12 px: a nearer plane seen from another place.
    art = drawing(2)
    pixels = np.asarray(art).copy()
    pixels[240:] = np.roll(pixels[240:], 12, axis=1)
    moved = Image.fromarray(pixels)
    check = dense_check(sketch(art), art.size, sketch(moved), art.size, IDENTITY)
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
