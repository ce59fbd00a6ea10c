"""A query's features are prepared once: its RootSIFT descriptors too."""

from __future__ import annotations

import numpy as np
from PIL import Image

from img2img.postings.features import extract_features, mirrored
from img2img.postings.verify import QueryFeatures, verify_features
from img2img.testing.edits import apply_edit


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    values = descriptors.astype(np.float32)
    values /= values.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(values)


def test_a_query_keeps_the_root_sift_of_both_its_sides(photos: dict[str, Image.Image]) -> None:
    features = extract_features(photos["coffee"])
    query = QueryFeatures.of(features)
    direct, flipped = query.roots
    assert np.array_equal(direct, root_sift(features.descriptors))
    assert np.array_equal(flipped, root_sift(mirrored(features).descriptors))
    assert np.allclose(np.linalg.norm(direct, axis=1), 1.0, atol=1e-3)


def test_one_prepared_query_verifies_as_a_fresh_one_each_time(
    photos: dict[str, Image.Image],
) -> None:
    photo = photos["astronaut"]
    query = QueryFeatures.of(extract_features(photo))
    for edit in ("resize", "mirror", "crop70"):
        candidate = extract_features(apply_edit(photo, edit))
        again = verify_features(query, candidate)
        fresh = verify_features(QueryFeatures.of(extract_features(photo)), candidate)
        assert again.same, edit
        assert fresh.same, edit
        assert again.evidence == fresh.evidence
