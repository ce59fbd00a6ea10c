"""The verifier on real photos: copies under every edit, and what is not a copy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from img2img import MissingDependencyError, verify_copy
from img2img.postings.features import extract_features, mirrored
from img2img.postings.verify import QueryFeatures, Thresholds, verify_features
from img2img.testing.edits import EDITS, apply_edit


@pytest.fixture(scope="module")
def chelsea_query(photos: dict[str, Image.Image]) -> QueryFeatures:
    return QueryFeatures.of(photos["chelsea"])


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_edit_of_a_photo_is_verified_as_the_same_picture(
    photos: dict[str, Image.Image], chelsea_query: QueryFeatures, edit: str
) -> None:
    result = verify_copy(chelsea_query, apply_edit(photos["chelsea"], edit, seed=1))
    assert result.same, result.reason
    assert result.evidence.mirrored == (edit == "mirror")


def test_the_relation_is_symmetric_for_a_crop(photos: dict[str, Image.Image]) -> None:
    crop = apply_edit(photos["astronaut"], "crop50", seed=2)
    assert verify_copy(photos["astronaut"], crop).same
    assert verify_copy(crop, photos["astronaut"]).same


def test_different_photos_are_not_copies(photos: dict[str, Image.Image]) -> None:
    names = ["astronaut", "chelsea", "coffee", "rocket", "camera", "coins"]
    features = {n: extract_features(photos[n]) for n in names}
    for query in names:
        for other in names:
            if other != query:
                result = verify_features(QueryFeatures.of(features[query]), features[other])
                assert not result.same, (query, other, result.evidence)
                assert result.reason


def test_two_photos_of_one_scene_from_nearby_viewpoints_are_not_copies(
    motorcycle_views: tuple[Image.Image, Image.Image],
) -> None:
    left, right = motorcycle_views
    result = verify_copy(left, right)
    # Many keypoints agree (the scene is the same)...
    assert result.evidence.inliers > 50
    # ...but parallax keeps one fit from holding tightly across the frame.
    assert not result.same
    assert not verify_copy(right, left).same


def test_scale_and_rotation_are_told_in_the_pictures_own_pixels(
    photos: dict[str, Image.Image],
) -> None:
    photo = photos["coffee"]
    half = photo.resize((photo.width // 2, photo.height // 2))
    result = verify_copy(photo, half)
    assert result.same
    assert result.evidence.scale == pytest.approx(0.5, abs=0.03)
    turned = verify_copy(photo, photo.rotate(10, expand=True))
    assert turned.evidence.rotation == pytest.approx(
        -10, abs=1
    ) or turned.evidence.rotation == pytest.approx(10, abs=1)


def test_mirrored_features_match_those_of_the_flipped_picture(
    photos: dict[str, Image.Image],
) -> None:
    photo = photos["astronaut"]
    flipped = extract_features(ImageOps.mirror(photo))
    result = verify_features(QueryFeatures(flipped, flipped), mirrored(extract_features(photo)))
    assert result.same
    assert result.evidence.inliers > 0.8 * len(flipped)


def test_blank_and_tiny_pictures_are_refused_with_a_reason() -> None:
    blank = Image.new("RGB", (300, 200), (128, 128, 128))
    result = verify_copy(blank, blank)
    assert not result.same
    assert "fewer than" in result.reason
    assert len(extract_features(Image.new("RGB", (1, 1)))) == 0


def test_stricter_thresholds_refuse_what_the_defaults_accept(
    photos: dict[str, Image.Image],
) -> None:
    copy = apply_edit(photos["rocket"], "jpeg30")
    assert verify_copy(photos["rocket"], copy).same
    strict = Thresholds(min_inliers=100_000)
    assert not verify_copy(photos["rocket"], copy, thresholds=strict).same


def test_a_missing_opencv_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingDependencyError, match="opencv-python-headless"):
        extract_features(np.zeros((10, 10), np.uint8))
