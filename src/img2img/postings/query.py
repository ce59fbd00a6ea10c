"""The picture asked about: its pixels, and its sha256 and record id when it has them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from img2img.images import DEFAULT_MAX_PIXELS
from img2img.loading import ImageInput, load_input
from img2img.protocols import Fetcher
from img2img.provenance import image_id

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["QueryImage", "load_query"]


@dataclass(frozen=True, slots=True)
class QueryImage:
    """``image`` as RGB; ``sha256`` of its bytes (``None`` for a ``PIL.Image`` or an
    array); ``id`` the record id it would have if indexed from its URL or path."""

    image: Image.Image
    sha256: str | None = None
    id: str | None = None


def load_query(
    image: ImageInput, fetcher: Fetcher, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> QueryImage:
    """Read any accepted query input, keeping what identifies it exactly."""
    loaded = load_input(image, fetcher, max_pixels=max_pixels)
    return QueryImage(
        loaded.image,
        hashlib.sha256(loaded.data).hexdigest() if loaded.data is not None else None,
        image_id(loaded.url) if loaded.url else None,
    )
