"""Stable ids and the provenance metadata stored with every vector."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from img2img.hashes import difference_hash
from img2img.models import ImageCandidate, MetadataValue

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "build_metadata",
    "domain_of",
    "image_id",
    "normalise_url",
    "record_id",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """Canonical form of a URL for identity: lower-case scheme and host, no default
    port, no fragment, ``/`` for an empty path. Query strings are kept: on image
    CDNs they often select the image. Text that does not parse as a URL (a bad
    port, a broken IPv6 literal) is returned stripped, as it is: it still needs
    an id, to be reported as a failure."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path or ("/" if scheme in _DEFAULT_PORTS else "")
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def record_id(candidate: ImageCandidate) -> str:
    """The id a candidate is stored under: :func:`image_id` of its ``identity``, else of
    its ``image_url``."""
    return image_id(candidate.identity or candidate.image_url)


def image_id(url: str) -> str:
    """The stable id of the image at ``url``: 32 hex chars of sha256 of the normalised URL.

    Defined for any string, even one holding lone surrogates, so that no URL,
    however broken, stops a run before it can be reported.
    """
    data = normalise_url(url).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


def domain_of(url: str | None) -> str | None:
    """Host of ``url`` without a leading ``www.``, or ``None`` (also for text that is no URL)."""
    if not url:
        return None
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    return host.removeprefix("www.") or None


def build_metadata(
    candidate: ImageCandidate,
    *,
    keyphrase: str | None,
    content: bytes,
    image: Image.Image,
    indexed_at: float | None = None,
) -> dict[str, MetadataValue]:
    """Everything a match needs to answer "where is this image": no ``None`` values,
    since Pinecone stores no nulls."""
    width, height = image.info.get("original_size", image.size)
    fields: dict[str, MetadataValue | None] = {
        **candidate.extra,
        "image_url": candidate.image_url,
        "page_url": candidate.page_url,
        "title": candidate.title,
        "domain": candidate.domain or domain_of(candidate.page_url or candidate.image_url),
        "thumbnail_url": candidate.thumbnail_url,
        "position": candidate.position,
        "keyphrase": keyphrase,
        "indexed_at": int(indexed_at if indexed_at is not None else time.time()),
        "sha256": hashlib.sha256(content).hexdigest(),
        "dhash": difference_hash(image),
        "width": candidate.width or int(width),
        "height": candidate.height or int(height),
    }
    return {key: value for key, value in fields.items() if value is not None}
