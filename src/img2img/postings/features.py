"""Local features of a picture: SIFT keypoints and descriptors, computed with OpenCV.

A picture is looked at in grey at :data:`FEATURE_SIDE` pixels on its long side,
whatever its size, so a copy and its original are described at the same scale
relative to their frames. OpenCV is imported on first use
(``pip install opencv-python-headless``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from img2img.errors import InvalidImageError, MissingDependencyError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "FEATURE_SIDE",
    "MAX_FEATURES",
    "SKETCH_SIDE",
    "LocalFeatures",
    "extract_features",
    "grey_pixels",
    "mirrored",
    "opencv",
    "sketch_of",
]

#: Long side, in pixels, of the grey picture features are computed on. 512 keeps
#: enough detail for crops of half the frame and costs about 60-80 ms a picture.
FEATURE_SIDE = 512
#: Most keypoints kept per picture, strongest first (about 100 KB cached per picture).
MAX_FEATURES = 800
#: SIFT's contrast threshold, far below OpenCV's 0.04: the strongest
#: :data:`MAX_FEATURES` keypoints are kept anyway, so this only lets smooth
#: pictures (a blurred clock, a product on a plain background) have enough.
CONTRAST_THRESHOLD = 0.005
#: Long side, in pixels, of the small grey picture kept beside the keypoints for
#: the dense check (:mod:`img2img.postings.dense`): a comic's lines survive it,
#: and it costs a fifth of what the keypoints cost to keep.
SKETCH_SIDE = 192


@dataclass(frozen=True, slots=True, eq=False)
class LocalFeatures:
    """What the verifier needs of one picture.

    - ``points``: float32 ``(n, 2)``, keypoint ``(x, y)`` in pixels of the
      working frame, whose size is ``size`` (``(width, height)``, long side
      :data:`FEATURE_SIDE` or less);
    - ``descriptors``: uint8 ``(n, 128)`` SIFT descriptors, row ``i`` for point ``i``;
    - ``source_size``: ``(width, height)`` of the picture as posted, when known,
      so a fit's scale can be told in the pictures' own pixels;
    - ``sketch``: uint8 ``(h, w)``, the working frame in grey shrunk to
      :data:`SKETCH_SIDE` on its long side, for the dense check of the pixels
      under a fit; ``None`` when not kept (the keypoints then decide alone).
    """

    points: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8]
    size: tuple[int, int]
    source_size: tuple[int, int] | None = None
    sketch: npt.NDArray[np.uint8] | None = None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def shrink(self) -> float:
        """Working-frame pixels per pixel of the picture as posted (1.0 when unknown)."""
        if self.source_size is None or self.source_size[0] <= 0:
            return 1.0
        return self.size[0] / self.source_size[0]


def opencv() -> Any:
    """The ``cv2`` module, or a :class:`~img2img.errors.MissingDependencyError` naming the package."""
    try:
        import cv2
    except ImportError as exc:
        raise MissingDependencyError(
            "finding postings needs OpenCV: pip install opencv-python-headless"
        ) from exc
    return cv2


def grey_pixels(image: Image.Image, side: int = FEATURE_SIDE) -> npt.NDArray[np.uint8]:
    """``image`` in grey, shrunk (never enlarged) to ``side`` on its long side: uint8 ``(h, w)``."""
    from PIL import Image

    grey = image.convert("L")
    if min(grey.size) < 1:
        raise InvalidImageError(f"cannot describe an image of size {grey.size}")
    scale = side / max(grey.size)
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BOX,
        )
    return np.asarray(grey, dtype=np.uint8)


def sketch_of(grey: npt.NDArray[np.uint8], side: int = SKETCH_SIDE) -> npt.NDArray[np.uint8]:
    """``grey`` uint8 ``(h, w)`` shrunk (never enlarged) to ``side`` on its long side,
    by area averaging (which also averages noise and JPEG blocks away)."""
    height, width = grey.shape
    scale = side / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(grey)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(opencv().resize(grey, size, interpolation=opencv().INTER_AREA), np.uint8)


def _mirror_permutation() -> npt.NDArray[np.intp]:
    # A SIFT descriptor is 4 x 4 cells (rows across the keypoint's orientation,
    # columns along it) of 8 orientation bins. Mirroring the picture mirrors each
    # patch about its orientation axis: the rows reverse and angles negate.
    cells = np.arange(128).reshape(4, 4, 8)
    return cells[::-1, :, (-np.arange(8)) % 8].reshape(-1)


_MIRROR = _mirror_permutation()


def mirrored(features: LocalFeatures) -> LocalFeatures:
    """The features of the picture flipped left-right, without computing them again.

    Keypoints move to ``width - 1 - x`` and each descriptor's cells and angles
    are permuted as mirroring moves them; matching the result against features
    of the flipped picture agrees for over 90 % of keypoints.
    """
    points = features.points.copy()
    points[:, 0] = (features.size[0] - 1) - points[:, 0]
    sketch = None if features.sketch is None else np.ascontiguousarray(features.sketch[:, ::-1])
    return LocalFeatures(
        points, features.descriptors[:, _MIRROR], features.size, features.source_size, sketch
    )


def extract_features(
    image: Image.Image | npt.NDArray[np.uint8], *, max_features: int = MAX_FEATURES
) -> LocalFeatures:
    """SIFT features of ``image`` (a PIL image, or grey uint8 ``(h, w)`` pixels already
    at working size). A PIL image's ``info["original_size"]`` (set by
    :func:`~img2img.images.decode_image`), else its size, becomes ``source_size``.

    Raises :class:`~img2img.errors.InvalidImageError` for an empty image and
    :class:`~img2img.errors.MissingDependencyError` without OpenCV.
    """
    source_size: tuple[int, int] | None = None
    if isinstance(image, np.ndarray):
        pixels = image
    else:
        pixels = grey_pixels(image)
        width, height = image.info.get("original_size", image.size)
        source_size = (int(width), int(height))
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise InvalidImageError(f"cannot describe an image of shape {pixels.shape}")
    cv2 = opencv()
    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=CONTRAST_THRESHOLD)
    keypoints, descriptors = sift.detectAndCompute(pixels, None)
    height, width = pixels.shape
    sketch = sketch_of(pixels)
    if descriptors is None or not keypoints:
        return LocalFeatures(
            np.zeros((0, 2), np.float32),
            np.zeros((0, 128), np.uint8),
            (width, height),
            source_size,
            sketch,
        )
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2)
    # OpenCV's SIFT values are whole numbers in 0..255 stored as float: uint8 loses nothing.
    packed = np.clip(np.rint(descriptors), 0, 255).astype(np.uint8)
    return LocalFeatures(
        points[:max_features], packed[:max_features], (width, height), source_size, sketch
    )
