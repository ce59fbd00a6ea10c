"""The picture asked about: its pixels, and its sha256 and record id when it has them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from img2img.images import DEFAULT_MAX_PIXELS, decode_image, to_rgb
from img2img.loading import ImageInput, read_bytes
from img2img.protocols import Fetcher
from img2img.provenance import image_id

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["QueryImage", "load_query"]


@dataclass(frozen=True, slots=True)
class QueryImage:
    """``image`` as RGB; ``sha256`` of its bytes (``None`` for a ``PIL.Image``);
    ``id`` the record id it would have if indexed from its URL or path."""

    image: Image.Image
    sha256: str | None = None
    id: str | None = None


def load_query(
    image: ImageInput, fetcher: Fetcher, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> QueryImage:
    """Read any accepted query input, keeping what identifies it exactly."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.width * image.height > max_pixels:
            from img2img.errors import ImageTooLargeError

            raise ImageTooLargeError(f"image has more than {max_pixels:,} pixels")
        return QueryImage(to_rgb(image))
    url: str | None = None
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        url = (
            text
            if urlsplit(text).scheme in ("http", "https", "file")
            else Path(text).resolve().as_uri()
        )
        data = read_bytes(url, fetcher)
    else:
        raise TypeError(f"expected a path, URL, bytes or PIL.Image, got {type(image).__name__}")
    return QueryImage(
        decode_image(data, max_pixels=max_pixels),
        hashlib.sha256(data).hexdigest(),
        image_id(url) if url else None,
    )
