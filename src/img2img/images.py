"""Bytes, files and PIL images in; one safe, upright RGB ``PIL.Image`` out."""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from img2img.errors import ImageTooLargeError, InvalidImageError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_MAX_PIXELS", "decode_image", "to_rgb"]

#: 64 megapixels: larger than any camera photo, far below a decompression bomb.
DEFAULT_MAX_PIXELS = 64_000_000
#: Decoded images are shrunk to fit this box: embedders look at ~224 px, and
#: JPEG draft mode makes decoding big photos several times faster.
WORKING_SIZE = 1024


def to_rgb(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, alpha flattened on white, RGB."""
    from PIL import Image, ImageOps

    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, working_size: int | None = WORKING_SIZE
) -> Image.Image:
    """Decode image bytes into an RGB image no larger than ``working_size`` on a side.

    Raises :class:`~img2img.errors.ImageTooLargeError` when the header declares
    more than ``max_pixels`` (checked before any pixel is decoded) and
    :class:`~img2img.errors.InvalidImageError` for anything Pillow cannot decode.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidImageError("empty image data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"image is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}"
                )
            if working_size is not None:
                image.draft("RGB", (working_size, working_size))
            image.load()
            rgb = to_rgb(image)
    except ImageTooLargeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise InvalidImageError("not an image Pillow can identify") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise InvalidImageError(f"corrupt or unsupported image: {exc}") from exc
    if working_size is not None and max(rgb.size) > working_size:
        rgb.thumbnail((working_size, working_size), Image.Resampling.BICUBIC)
    rgb.info["original_size"] = (width, height)  # provenance records the real size
    return rgb
