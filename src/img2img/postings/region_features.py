"""Local features of a query's regions, for verifying one region against a candidate.

A query that is a collage, or holds a picture-in-picture, is verified region by
region when the whole does not verify (:class:`~img2img.postings.judge.Judge`).
Each region is described as a picture of its own: SIFT on its grey pixels,
shrunk to :data:`REGION_SIDE` on the long side (never enlarged), in the frame
:func:`~img2img.postings.features.extract_features` gives a picture of the
region's size, so the verifier and the composite's geometry read a region's
features as they read any picture's. Its ``source_size`` is the region's size
in the query's decoded pixels: a crop of a decoded query still carries the whole
picture's ``info["original_size"]``, which, taken as the region's, put the region's
fit at the wrong scale, and a query given as a file or bytes (decoded at
:data:`~img2img.images.WORKING_SIZE`) found no picture it contains by a region.

Describing regions is a large part of a composite query's cost (a SIFT pass
each, 4-14 regions a query); a tile's detail beyond :data:`REGION_SIDE` pixels
adds keypoints a candidate, described at
:data:`~img2img.postings.features.FEATURE_SIDE` on its whole frame, rarely has.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from img2img.postings.features import LocalFeatures, extract_features, grey_pixels
from img2img.postings.regions import Box, crop_regions

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["REGION_SIDE", "describe_region"]

#: Long side, in pixels, a region of the query is described at. Measured with
#: ``benchmarks/postings_speed.py`` (docs/performance.md): recall per form the same
#: as at 512, composite queries 13-16 % less CPU (a collage's cell at 0.6 of the cost).
REGION_SIDE = 384


def describe_region(image: Image.Image, box: Box, *, side: int | None = None) -> LocalFeatures:
    """Features of ``image`` cut to ``box`` (in its pixels as given, before any shrinking
    at decoding), described at ``side`` (default :data:`REGION_SIDE`) on the long side.

    ``source_size`` is the region's size in ``image``'s decoded pixels, so the
    features' ``shrink`` is working-frame pixels per decoded pixel of the region.
    """
    (cut,) = crop_regions(image, [box])
    features = extract_features(grey_pixels(cut, side or REGION_SIDE))
    return replace(features, source_size=cut.size)
