"""The picture asked about, read once: its pixels, and what identifies it exactly.

``find_postings`` and ``locate`` both start here, so a query means the same to
both: the same pixels (within the same pixel limit), the same sha256 of its
bytes, the same record id when it was read from a URL or a path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from img2img.images import DEFAULT_MAX_PIXELS
from img2img.loading import ImageInput, is_http_url, load_input, local_image_bytes
from img2img.protocols import Fetcher
from img2img.provenance import image_id

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["QueryImage", "ShownQuery", "load_query"]


@dataclass(frozen=True, slots=True)
class ShownQuery:
    """The query as a reverse-image service is shown it: ``remote`` is the ``http(s)``
    URL it came from or the bytes to upload; ``sha256`` the digest of those bytes
    (or of the query's own bytes, for a URL)."""

    remote: str | bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class QueryImage:
    """``image`` as RGB; ``sha256`` of its bytes (``None`` for a ``PIL.Image`` or an
    array); ``id`` the record id it would have if indexed from its URL or path;
    ``url`` and ``data`` where it was read from and its bytes, when it had them."""

    image: Image.Image
    sha256: str | None = None
    id: str | None = None
    url: str | None = None
    data: bytes | None = None

    def shown(self) -> ShownQuery:
        """What a reverse-image service sees of the query.

        A PIL image or an array has no bytes of its own: the JPEG encoded for
        the upload stands in for them, and names the query exactly in what the
        service finds.
        """
        data = self.data if self.data is not None else local_image_bytes(self.image)
        remote: str | bytes = self.url if self.url and is_http_url(self.url) else data
        sha256 = self.sha256 if self.data is not None and self.sha256 else _digest(data)
        return ShownQuery(remote, sha256)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_query(
    image: ImageInput, fetcher: Fetcher, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> QueryImage:
    """Read any accepted query input, keeping what identifies it exactly."""
    loaded = load_input(image, fetcher, max_pixels=max_pixels)
    return QueryImage(
        loaded.image,
        _digest(loaded.data) if loaded.data is not None else None,
        image_id(loaded.url) if loaded.url else None,
        loaded.url,
        loaded.data,
    )
