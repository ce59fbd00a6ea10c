"""Small JPEG thumbnails as ``data:`` URIs, so a report is one file that needs no network.

A report shows pictures the command has already seen: the picture cache keeps a
thumbnail of every image it verified or indexed, and a local file can be read
again. Nothing is downloaded to draw a report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.errors import Img2ImgError

if TYPE_CHECKING:
    from PIL import Image

    from img2img.postings.cache import PictureCache

__all__ = ["THUMBNAIL_SIDE", "Thumbnail", "ThumbnailLookup", "local_thumbnails", "thumbnail_of"]

#: Long side, in pixels, of a thumbnail in a report: sharp on a page, ~10 KB each.
THUMBNAIL_SIDE = 240
#: JPEG quality of thumbnails: small enough to mail a report of a hundred postings.
THUMBNAIL_QUALITY = 72

#: Finds the picture of a record (its id and image URL), or ``None`` when it cannot be had.
ThumbnailLookup = Callable[[str, "str | None"], "Image.Image | None"]


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A thumbnail ready for a page: a ``data:image/jpeg`` URI and its size in pixels."""

    uri: str
    width: int
    height: int


def thumbnail_of(image: Image.Image) -> Thumbnail:
    """``image`` shrunk to :data:`THUMBNAIL_SIDE` on its long side, as an embedded JPEG."""
    from PIL import Image

    small = image.convert("RGB")
    if max(small.size) > THUMBNAIL_SIDE:
        small = small.copy()
        small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(f"data:image/jpeg;base64,{data}", small.width, small.height)


def _local_file(url: str | None) -> Image.Image | None:
    """The picture of a ``file://`` URL, or ``None`` for any other URL or an unreadable file."""
    from img2img.images import decode_image

    if not url or urlsplit(url).scheme != "file":
        return None
    try:
        with open(url2pathname(urlsplit(url).path), "rb") as file:
            return decode_image(file.read())
    except (OSError, Img2ImgError):
        return None


def local_thumbnails(cache: PictureCache | None = None) -> ThumbnailLookup:
    """A lookup that reads the picture cache first, then local files; never the network."""

    def lookup(id: str, image_url: str | None) -> Image.Image | None:
        if cache is not None:
            try:
                cached = cache.thumbnail(id)
            except Img2ImgError:
                cached = None
            if cached is not None:
                return cached
        return _local_file(image_url)

    return lookup
