"""Flat-colour drawings: verified as photos are, and two drawings on one template are not copies."""

from __future__ import annotations

import numpy as np
import pytest

from img2img import verify_copy
from img2img.postings.features import extract_features
from img2img.postings.verify import QueryFeatures, verify_features
from img2img.testing.drawings import STYLES, drawing
from img2img.testing.edits import apply_edit
from img2img.testing.reposts import apply_repost


def test_a_drawing_is_made_from_its_seed_alone() -> None:
    assert np.array_equal(np.asarray(drawing(5)), np.asarray(drawing(5)))
    assert not np.array_equal(np.asarray(drawing(5)), np.asarray(drawing(6)))
    assert drawing(1, size=(300, 200)).size == (300, 200)
    assert len(STYLES) == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("form", ["jpeg30", "resize", "colour", "text"])
def test_an_edited_drawing_is_the_same_picture(seed: int, form: str) -> None:
    result = verify_copy(drawing(seed), apply_edit(drawing(seed), form, seed=seed))
    assert result.same, result.reason


@pytest.mark.parametrize("form", ["thumb160", "stickers", "meme", "stretch16:9"])
def test_a_reposted_drawing_is_the_same_picture(form: str) -> None:
    art = drawing(4)
    others = [drawing(s) for s in (10, 11, 12)]
    result = verify_copy(art, apply_repost(art, form, others=others, seed=1))
    assert result.same, result.reason


def test_drawings_on_one_template_are_not_copies() -> None:
    # Comic strips with the same panel layout, logos with the same word mark.
    features = {seed: extract_features(drawing(seed)) for seed in range(24)}
    called = [
        (a, b)
        for a in features
        for b in features
        if a != b and verify_features(QueryFeatures.of(features[a]), features[b]).same
    ]
    assert len(called) <= 2, called
