"""Features of stored pictures: from the cache, else downloaded once and cached."""

from __future__ import annotations

import threading
from collections.abc import Callable

from img2img.errors import FetchError
from img2img.images import DEFAULT_MAX_PIXELS, decode_image
from img2img.postings.cache import PictureCache, encode_thumbnail
from img2img.postings.features import LocalFeatures, extract_features

__all__ = ["CandidatePictures"]


class CandidatePictures:
    """Looks up a stored record's features, downloading its image only when the cache lacks it.

    ``read`` turns an image URL into bytes (``file://`` from disk, ``http(s)``
    through the client's fetcher). Raises :class:`~img2img.errors.FetchError`
    when the image cannot be downloaded (or no URL was stored) and
    :class:`~img2img.errors.ImageError` when it does not decode; the caller
    reports such a candidate as unverified. Thread-safe: threads asking for one
    record at once wait for one computation of its features, not one each.
    """

    def __init__(
        self,
        cache: PictureCache,
        read: Callable[[str], bytes],
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.cache = cache
        self._read = read
        self._max_pixels = max_pixels
        self._guard = threading.Lock()
        self._asked: dict[str, threading.Lock] = {}  # ids being looked up now

    def features(self, id: str, image_url: str | None) -> LocalFeatures:
        """The features of record ``id``, whose image lives at ``image_url``."""
        with self._guard:
            lock = self._asked.setdefault(id, threading.Lock())
        try:
            with lock:  # a second thread finds what the first one computed
                return self._features(id, image_url)
        finally:
            with self._guard:
                self._asked.pop(id, None)

    def _features(self, id: str, image_url: str | None) -> LocalFeatures:
        cached = self.cache.features(id)
        if cached is not None:
            return cached
        if not image_url:
            raise FetchError(f"record {id} has no image_url to download it from")
        image = decode_image(self._read(image_url), max_pixels=self._max_pixels)
        features = extract_features(image)
        self.cache.put_features(id, features, encode_thumbnail(image))
        return features
