"""A small query's pixels against the candidate's: a thumbnail of one view of a scene is
not a copy of a cut of the other view, a thumbnail of the same view is."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from img2img import verify_copy
from img2img.postings.features import SKETCH_SIDE, extract_features, opencv
from img2img.postings.flow import DEFAULT_FLOW_GUARD, flow_misfit, in_scope, judge_flow
from img2img.postings.verify import DEFAULT_THRESHOLDS, QueryFeatures
from img2img.testing.edits import jpeg
from img2img.testing.reposts import apply_repost

NO_FLOW = replace(DEFAULT_THRESHOLDS, flow=None)
#: Cuts of the stereo pair's views (pixels of the 741 x 500 views) and the thumbnail
#: side whose keypoints call a cut of the other view a copy, without the flow check.
CUTS = (((0, 0, 444, 300), 120), ((0, 0, 370, 250), 160))


@pytest.mark.parametrize(("box", "side"), CUTS)
def test_a_thumbnail_of_one_stereo_view_is_refused_against_a_cut_of_the_other(
    motorcycle_views: tuple[Image.Image, Image.Image], box: tuple[int, int, int, int], side: int
) -> None:
    left, right = motorcycle_views
    thumbnail = QueryFeatures.of(apply_repost(left, f"thumb{side}"))
    other = extract_features(jpeg(right.crop(box)))
    same = extract_features(jpeg(left.crop(box)))
    # The keypoints alone take the other view's cut for a crop: its parallax, a few
    # pixels at 512, is a fraction of a pixel of the thumbnail.
    assert verify_copy(thumbnail, other, thresholds=NO_FLOW).same
    refused = verify_copy(thumbnail, other)
    assert not refused.same
    assert "px" in refused.reason
    kept = verify_copy(thumbnail, same)
    assert kept.same
    assert kept.relation == "copy"


def test_thumbnails_of_photos_stay_copies_of_their_originals(
    photos: dict[str, Image.Image],
) -> None:
    for name in ("astronaut", "coffee", "chelsea"):
        original = extract_features(jpeg(photos[name]))
        for side in (120, 160):
            thumbnail = apply_repost(photos[name], f"thumb{side}")
            assert verify_copy(thumbnail, original).same, (name, side)


def _sketches(photo: Image.Image, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """A ``side``-pixel grey thumbnail of ``photo``, its 192-pixel sketch, and the
    matrix from the sketch onto the thumbnail."""
    grey = np.asarray(photo.convert("L"))
    cv2 = opencv()
    height, width = grey.shape
    scale = SKETCH_SIDE / max(width, height)
    sketch = cv2.resize(
        grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
    )
    small = side / max(width, height)
    thumb = cv2.resize(
        grey, (round(width * small), round(height * small)), interpolation=cv2.INTER_AREA
    )
    to_query = np.diag([thumb.shape[1] / sketch.shape[1], thumb.shape[0] / sketch.shape[0], 1.0])
    return thumb, sketch, to_query


def test_a_picture_shrunk_lies_on_itself_and_a_depth_gradient_does_not(
    photos: dict[str, Image.Image],
) -> None:
    thumb, sketch, to_query = _sketches(photos["astronaut"], 120)
    same = flow_misfit(thumb, sketch, to_query)
    assert same is not None
    assert same.quartile < 0.2
    assert same.stretch < 0.1
    # The sketch stretched by 3 % across: what depth changing across a view does,
    # once a similarity has taken the mean motion away.
    cv2 = opencv()
    height, width = sketch.shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    stretched = cv2.remap(sketch, xs * 0.97 + width * 0.015, ys, cv2.INTER_LINEAR)
    moved = flow_misfit(thumb, stretched, to_query)
    assert moved is not None
    assert moved.stretch > DEFAULT_FLOW_GUARD.max_stretch
    assert judge_flow(
        thumb, thumb.shape[::-1], stretched, to_query, DEFAULT_FLOW_GUARD, similarity=True
    )
    # A looser fit has a stretch of its own: only what is left over it is asked.
    assert not judge_flow(
        thumb, thumb.shape[::-1], stretched, to_query, DEFAULT_FLOW_GUARD, similarity=False
    )


def test_only_queries_whose_sketch_is_their_whole_frame_are_asked(
    photos: dict[str, Image.Image],
) -> None:
    thumb, sketch, to_query = _sketches(photos["astronaut"], 120)
    assert in_scope(thumb, (thumb.shape[1], thumb.shape[0]))
    # A 512-pixel query's sketch is shrunk: its pixels are not the query's.
    assert not in_scope(sketch, (512, 512))
    flat = np.full_like(sketch, 128)
    assert judge_flow(sketch, (512, 512), flat, to_query, DEFAULT_FLOW_GUARD, similarity=True) == ""
    assert judge_flow(thumb, thumb.shape[::-1], sketch, to_query, None, similarity=True) == ""
