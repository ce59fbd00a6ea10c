"""Real photos for tests and demos, from scikit-image (no download needed).

Install scikit-image (``pip install img2img-search[dev]``) to use this module.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from img2img.errors import MissingDependencyError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PHOTO_NAMES", "edited_copy", "sample_photos", "save_photos"]

#: Photos scikit-image ships inside its wheel: colour ones first, then greyscale.
PHOTO_NAMES = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
    "immunohistochemistry", "retina", "colorwheel", "logo", "stereo_motorcycle",
    "camera", "coins", "moon", "clock", "brick",
)  # fmt: skip


def sample_photos(names: tuple[str, ...] = PHOTO_NAMES) -> dict[str, Image.Image]:
    """``{name: RGB image}`` for the named scikit-image photos."""
    try:
        import numpy as np
        import skimage.data
    except ImportError as exc:
        raise MissingDependencyError(
            "sample photos come from scikit-image: pip install scikit-image"
        ) from exc
    from PIL import Image

    from img2img.images import to_rgb

    photos = {}
    for name in names:
        pixels = getattr(skimage.data, name)()
        if isinstance(pixels, tuple):  # stereo pairs: keep the left view
            pixels = pixels[0]
        photos[name] = to_rgb(Image.fromarray(np.asarray(pixels)))
    return photos


def edited_copy(
    image: Image.Image, *, scale: float = 0.6, crop: float = 0.08, quality: int = 70
) -> Image.Image:
    """The kind of copy found when an image is re-posted: resized, cropped at the
    edges by ``crop`` of each side, and re-saved as a lossy JPEG."""
    from PIL import Image

    width, height = image.size
    resized = image.resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR
    )
    dx, dy = round(resized.width * crop), round(resized.height * crop)
    cropped = resized.crop((dx, dy, resized.width - dx, resized.height - dy))
    buffer = io.BytesIO()
    cropped.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def save_photos(folder: Path, names: tuple[str, ...] = PHOTO_NAMES) -> list[Path]:
    """Write the named photos into ``folder`` as PNG files; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, photo in sample_photos(names).items():
        path = folder / f"{name}.png"
        photo.save(path)
        paths.append(path)
    return paths
