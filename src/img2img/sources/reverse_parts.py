"""What the reverse-search engines share: how a query image reaches them, and their quota.

Some engines fetch an image from a public URL or keep an upload under an id of
their own (SerpAPI's ``image_id``); others take the image's bytes inside the
search request itself (TinEye's ``image_upload``, Yandex's ``data``,
SauceNAO's ``file``). For those, :class:`HeldUploads` keeps the bytes here
under an id, so that ``upload`` and ``lookup`` keep the shape every
:class:`~img2img.protocols.ReverseImageSource` has, and an image asked about
by several kinds or pages is read once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from img2img.errors import ConfigurationError
from img2img.loading import ImageInput, local_image_bytes
from img2img.models import ImageCandidate, UploadedImage
from img2img.provenance import normalise_url
from img2img.sources.fields import http_url

__all__ = ["HELD_PREFIX", "HeldUploads", "Quota", "read_claims", "remote_or_bytes"]

#: The ``upload_id`` prefix of images held here rather than by the service.
HELD_PREFIX = "held:"


@dataclass(frozen=True, slots=True)
class Quota:
    """What an engine said of the searches left: ``remaining`` now (``None`` when it
    did not say), and in words what window that counts (``"today"``, ``"bundle"``)."""

    remaining: int | None
    window: str = ""

    def __str__(self) -> str:
        if self.remaining is None:
            return "unknown"
        return f"{self.remaining}" + (f" {self.window}" if self.window else "")


def remote_or_bytes(image: ImageInput | UploadedImage) -> str | UploadedImage | bytes:
    """What an engine can see as it is (an ``http(s)`` URL, an upload), else the local bytes.

    Raises:
        ConfigurationError: an ``http(s)`` URL without a usable host, or an
            input that holds no image.
    """
    if isinstance(image, UploadedImage):
        return image
    if isinstance(image, str) and urlsplit(image).scheme.lower() in ("http", "https"):
        if http_url(image) is None:
            raise ConfigurationError(f"not a usable image URL: {image!r}")
        return image
    return local_image_bytes(image)


class HeldUploads:
    """Local images kept for an engine that takes the bytes with each search.

    ``upload`` keeps the bytes under ``held:<sha256>`` and returns that
    reference; ``bytes_of`` gives them back for the request. Nothing leaves
    the machine until a search is sent.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._held: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def upload(self, data: bytes, *, engine: str) -> UploadedImage:
        """Hold ``data`` for ``engine``'s searches.

        Raises:
            ConfigurationError: empty bytes, or more than the engine takes.
        """
        if not data:
            raise ConfigurationError(f"{engine}: the image to search for is empty")
        if len(data) > self.max_bytes:
            raise ConfigurationError(
                f"{engine} takes images of at most {self.max_bytes // 1_000_000} MB; "
                f"this one is {len(data) / 1e6:.1f} MB: shrink it first"
            )
        key = HELD_PREFIX + hashlib.sha256(data).hexdigest()
        with self._lock:
            self._held[key] = data
        return UploadedImage(upload_id=key, size_bytes=len(data))

    def query(self, image: ImageInput | UploadedImage, *, engine: str) -> str | bytes:
        """The URL to send, or the bytes to send with the search.

        Raises:
            ConfigurationError: an upload this engine did not take.
        """
        seen = remote_or_bytes(image)
        if isinstance(seen, bytes):
            self.upload(seen, engine=engine)  # checks the size
            return seen
        if isinstance(seen, str):
            return seen
        if seen.url is not None:
            return seen.url
        with self._lock:
            data = self._held.get(str(seen.upload_id))
        if data is None:
            raise ConfigurationError(
                f"{engine} holds no upload {seen.upload_id!r}: upload it through this source"
            )
        return data


#: Reads one entry of a reply (an object, its 1-based rank) into a candidate, or ``None``.
EntryReader = Callable[[Mapping[str, Any], int], "ImageCandidate | None"]


def read_claims(
    entries: object, read: EntryReader, limit: int, *, seen: set[str] | None = None
) -> Iterator[ImageCandidate]:
    """The candidates of a reply's list of entries, in its order: an entry that is not
    an object or holds no usable image is skipped, each image URL comes once (``seen``
    carries that across pages), and no more than ``limit`` in all are yielded."""
    seen = set() if seen is None else seen
    for rank, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        if len(seen) >= limit:
            return
        candidate = read(entry, rank) if isinstance(entry, Mapping) else None
        if candidate is None or normalise_url(candidate.image_url) in seen:
            continue
        seen.add(normalise_url(candidate.image_url))
        yield candidate
