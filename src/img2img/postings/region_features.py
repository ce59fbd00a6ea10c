"""Features of a query's regions, cut from one description of the whole query.

When the whole query does not verify a candidate a region found, the judge
verifies with the region (a tile, a collage's cell). Describing each region on
its own costs a SIFT pass over it: a query's 13 tiles are about ten times the
pixels of the query at working size. Here the query is described once, at up
to :data:`REGION_SIDE` pixels with up to :data:`REGION_FEATURES` keypoints, and
each region gets the keypoints inside it, strongest first, placed in the frame
its own pass would have had (:data:`~img2img.postings.features.FEATURE_SIDE`
on its long side, never enlarged), with a sketch of its pixels for the dense
check: the same kind of features a pass over the region gives, at about a
third of the cost, whatever the number of regions.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from img2img.postings.features import (
    CONTRAST_THRESHOLD,
    FEATURE_SIDE,
    MAX_FEATURES,
    LocalFeatures,
    grey_pixels,
    opencv,
    sketch_of,
)
from img2img.postings.regions import Box, given_size

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["REGION_FEATURES", "REGION_SIDE", "RegionDescriber"]

#: Long side of the one pass the regions' features are cut from: a 45 % tile of a
#: 960-pixel query is seen at its own size, as a pass over the tile sees it.
REGION_SIDE = 1024
#: Keypoints of that pass: a region holding a fifth of the area keeps about the
#: :data:`~img2img.postings.features.MAX_FEATURES` a pass of its own keeps.
REGION_FEATURES = 4000


class RegionDescriber:
    """The features of any region of one decoded query, described once on first need;
    thread-safe (a thread asking while another describes waits for it)."""

    def __init__(self, image: Image.Image) -> None:
        self._image = image
        self._lock = threading.Lock()
        self._described: (
            tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8], float, npt.NDArray[np.uint8]]
            | None
        ) = None

    def _describe(
        self,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8], float, npt.NDArray[np.uint8]]:
        """Keypoints (decoded pixels, strongest first), descriptors, and the grey query."""
        with self._lock:
            if self._described is None:
                grey = np.asarray(self._image.convert("L"), np.uint8)
                pixels = grey_pixels(self._image, REGION_SIDE)
                scale = grey.shape[1] / pixels.shape[1]  # decoded pixels per described pixel
                cv2 = opencv()
                sift = cv2.SIFT_create(
                    nfeatures=REGION_FEATURES, contrastThreshold=CONTRAST_THRESHOLD
                )
                keypoints, descriptors = sift.detectAndCompute(pixels, None)
                if descriptors is None or not keypoints:
                    points = np.zeros((0, 2), np.float32)
                    packed = np.zeros((0, 128), np.uint8)
                else:
                    order = np.argsort([-kp.response for kp in keypoints], kind="stable")
                    points = np.array([kp.pt for kp in keypoints], np.float32).reshape(-1, 2)
                    points = (points[order] + 0.5) * scale - 0.5
                    packed = np.clip(np.rint(descriptors[order]), 0, 255).astype(np.uint8)
                self._described = (points, packed, scale, grey)
            return self._described

    def features(self, box: Box) -> LocalFeatures:
        """The features of ``box`` (the query's pixels as given), as a pass over the
        region cut out would describe it."""
        points, descriptors, _, grey = self._describe()
        per_given = self._image.width / given_size(self._image)[0]
        left, top = round(box[0] * per_given), round(box[1] * per_given)
        right = min(grey.shape[1], round(box[2] * per_given))
        bottom = min(grey.shape[0], round(box[3] * per_given))
        width, height = max(1, right - left), max(1, bottom - top)
        shrink = min(1.0, FEATURE_SIDE / max(width, height))
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        inside = (
            (points[:, 0] >= left)
            & (points[:, 0] < right)
            & (points[:, 1] >= top)
            & (points[:, 1] < bottom)
        )
        kept = np.flatnonzero(inside)[:MAX_FEATURES]
        placed = (points[kept] - np.array([left, top], np.float32) + 0.5) * np.array(
            [size[0] / width, size[1] / height], np.float32
        ) - 0.5
        cut = grey[top : top + height, left : left + width]
        working = cut if size == (width, height) else _shrunk(cut, size)
        return LocalFeatures(
            np.ascontiguousarray(placed, np.float32),
            np.ascontiguousarray(descriptors[kept]),
            size,
            (width, height),
            sketch_of(working),
        )


def _shrunk(grey: npt.NDArray[np.uint8], size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """``grey`` resized to ``size`` ``(width, height)`` by area, as a region's own pass
    shrinks it."""
    from PIL import Image

    return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BOX), np.uint8)
