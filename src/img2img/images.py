"""Bytes, files and PIL images in; one safe, upright RGB ``PIL.Image`` out.

Safety rules, each against a real failure:

- only web raster formats are opened (:data:`DECODED_FORMATS`): Pillow's
  other plugins include EPS, which runs Ghostscript, and rarely used parsers;
- the pixel count is read from the header and checked *before* decoding, so a
  small file declaring 100,000 x 100,000 pixels costs nothing;
- the result is the first frame, turned upright by its EXIF orientation,
  with transparency flattened on white and 16-bit samples scaled, in RGB.
"""

from __future__ import annotations

import io
import struct
from functools import cache
from typing import TYPE_CHECKING

from img2img.errors import ImageError, ImageTooLargeError, InvalidImageError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DECODED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "decode_image",
    "readable_suffixes",
    "sniff_image_type",
    "to_rgb",
]

#: 64 megapixels: larger than any camera photo, far below a decompression bomb.
DEFAULT_MAX_PIXELS = 64_000_000
#: Decoded images are shrunk to fit this box: the largest size anything
#: downstream uses (embedders look at 224-336 px; the picture cache keeps, and
#: local features are computed on, 512 px on the long side). Every resize after
#: decoding costs in proportion to the pixels it reads, and JPEG draft mode
#: decodes photos of twice this size or more at a half, quarter or eighth of
#: their size directly.
WORKING_SIZE = 512
#: Pillow format names :func:`decode_image` opens (those installed; HEIF needs pillow-heif).
DECODED_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "HEIF")

_ISO_BMFF_BRANDS = {
    b"avif": "avif",
    b"avis": "avif",
    b"heic": "heic",
    b"heix": "heic",
    b"heim": "heic",
    b"heis": "heic",
    b"hevc": "heic",
    b"hevx": "heic",
    b"mif1": "heic",
    b"msf1": "heic",
}
_PREMULTIPLIED = {"La": "LA", "RGBa": "RGBA"}
#: Bytes :func:`sniff_image_type` needs to decide.
SNIFF_BYTES = 32


def sniff_image_type(head: bytes) -> str | None:
    """The image type the first bytes announce (``"jpeg"``, ``"png"``, …), or ``None``.

    Recognises JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF and HEIC; give it at
    least :data:`SNIFF_BYTES` bytes when the body is that long.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(head) >= 14:
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head[4:8] == b"ftyp":
        return _ISO_BMFF_BRANDS.get(head[8:12])
    return None


def _scale_16_bit(image: Image.Image) -> Image.Image:
    """16/32-bit grey to 8-bit: Pillow's own convert clips at 255, turning photos white."""
    import numpy as np
    from PIL import Image

    samples = np.asarray(image)
    top = 65535 if image.mode.startswith("I;16") else max(int(samples.max()), 255)
    scaled = np.clip(samples.astype(np.float64) * (255.0 / top), 0, 255).round()
    return Image.fromarray(scaled.astype(np.uint8), "L")


def _upright(image: Image.Image) -> Image.Image:
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error):
        return image  # a broken EXIF block should not cost an otherwise good image


def to_rgb(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, alpha flattened on white, RGB.

    Raises :class:`~img2img.errors.InvalidImageError` for modes with no RGB form.
    """
    from PIL import Image

    if getattr(image, "is_animated", False) and image.tell() != 0:
        image.seek(0)
    image = _upright(image)
    try:
        if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
            image = _scale_16_bit(image)
        if image.mode in _PREMULTIPLIED:  # Pillow converts these only to their plain forms
            image = image.convert(_PREMULTIPLIED[image.mode])
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return image.convert("RGB")
    except ValueError as exc:
        raise InvalidImageError(f"cannot convert a {image.mode} image to RGB: {exc}") from exc


@cache
def _openable_formats() -> list[str]:
    from PIL import Image

    try:  # HEIC photos (iPhones) open only through this optional plugin
        import pillow_heif
    except ImportError:
        pass
    else:
        pillow_heif.register_heif_opener()
    Image.init()
    return [name for name in DECODED_FORMATS if name in Image.OPEN]


def readable_suffixes() -> frozenset[str]:
    """File name endings, lower case with the dot, of the formats :func:`decode_image` opens here.

    ``.jpg``, ``.jfif``, ``.png``, ``.webp``, ``.avif``, ``.tif`` and the rest
    of :data:`DECODED_FORMATS` that this Pillow reads; ``.heic`` and ``.heif``
    once ``pillow-heif`` is installed.
    """
    from PIL import Image

    formats = set(_openable_formats())
    return frozenset(
        suffix.lower() for suffix, name in Image.registered_extensions().items() if name in formats
    )


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, working_size: int | None = WORKING_SIZE
) -> Image.Image:
    """Decode image bytes into an RGB image no larger than ``working_size`` on a side.

    ``image.info["original_size"]`` keeps the size before any shrinking, upright
    (as the picture is seen once its EXIF orientation is applied).

    Raises :class:`~img2img.errors.ImageTooLargeError` when the header declares
    more than ``max_pixels`` (checked before any pixel is decoded) and
    :class:`~img2img.errors.InvalidImageError` for anything else that is not a
    decodable image in one of :data:`DECODED_FORMATS`.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidImageError("empty image data")
    try:
        image = Image.open(io.BytesIO(data), formats=_openable_formats())
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"image is {width}x{height} = {width * height:,} pixels, "
                f"over the limit of {max_pixels:,}"
            )
        if working_size is not None:
            image.draft("RGB", (working_size, working_size))
        image.load()
        stored = image.size
        rgb = to_rgb(image)
        if rgb.size != stored and rgb.size == stored[::-1]:
            width, height = height, width  # EXIF turned it a quarter: record the upright size
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own, larger limit, hit in open()
        raise ImageTooLargeError(f"image declares too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        kind = sniff_image_type(data[:SNIFF_BYTES])
        detail = f"a {kind} image this Pillow cannot open" if kind else "not a supported image"
        raise InvalidImageError(detail) from exc
    except MemoryError as exc:
        raise ImageTooLargeError("not enough memory to decode the image") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise InvalidImageError(f"corrupt or unsupported image: {exc}") from exc
    except Exception as exc:
        # Hostile bytes reach parsers that raise what they like (IndexError,
        # ZeroDivisionError, ...): still one bad image, never the caller's crash.
        raise InvalidImageError(
            f"corrupt or unsupported image: unexpected {type(exc).__name__}: {exc}"
        ) from exc
    if working_size is not None and max(rgb.size) > working_size:
        rgb.thumbnail((working_size, working_size), Image.Resampling.BICUBIC)
    rgb.info["original_size"] = (width, height)  # provenance records the real size
    return rgb
