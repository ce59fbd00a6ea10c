"""What an ImageSearchClient is made of: its parts, built on first use, and closed with it.

The client's operations live in :mod:`img2img.client`; this module holds the
assembly: the settings checked once, the default adapters created only when
none was given (and then owned and closed by the client), and the helpers
every operation shares to read images and check candidates' pictures.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from img2img.closing import Closing
from img2img.images import DEFAULT_MAX_PIXELS
from img2img.inputs import check_whole
from img2img.loading import read_bytes
from img2img.models import EmbeddingSpace
from img2img.pipeline import IndexSettings
from img2img.protocols import Embedder, Fetcher, ImageSource, ReverseImageSource, VectorStore

if TYPE_CHECKING:
    from img2img.postings.cache import PictureCache
    from img2img.postings.pictures import CandidatePictures
    from img2img.watch.book import WatchBook

__all__ = ["ClientParts"]


class ClientParts(Closing):
    """The parts of an :class:`~img2img.client.ImageSearchClient`; see its docstring."""

    def __init__(
        self,
        *,
        source: ImageSource | None = None,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        fetcher: Fetcher | None = None,
        workers: int = 8,
        batch_size: int = 32,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        picture_cache: PictureCache | str | os.PathLike[str] | None = None,
        cache_pictures: bool = True,
        reverse_source: ReverseImageSource | None = None,
    ) -> None:
        for name, value in (
            ("workers", workers),
            ("batch_size", batch_size),
            ("max_pixels", max_pixels),
        ):
            check_whole(name, value)
        self._owned: list[Fetcher | VectorStore | PictureCache | WatchBook] = []
        self._book: WatchBook | None = None
        self._source = source
        self._reverse_source = reverse_source
        if embedder is None:
            from img2img.embedders.clip import ClipEmbedder

            embedder = ClipEmbedder()
        self.embedder: Embedder = embedder
        if store is None:
            from img2img.stores.local.store import LocalStore, default_store_path

            store = LocalStore(default_store_path())
            self._owned.append(store)
        self.store: VectorStore = store
        self._fetcher = fetcher
        self._settings = IndexSettings(
            workers=workers, batch_size=batch_size, max_pixels=max_pixels
        )
        self._picture_cache = picture_cache
        self._cache_pictures = cache_pictures

    @property
    def space(self) -> EmbeddingSpace:
        """The embedding space of this client's embedder."""
        return EmbeddingSpace(self.embedder.model_id, self.embedder.dimension)

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            from img2img.net.fetch import HttpFetcher

            self._fetcher = HttpFetcher(max_connections=self._settings.workers)
            self._owned.append(self._fetcher)
        return self._fetcher

    @property
    def source(self) -> ImageSource:
        """The source ``index()`` uses; Google Images through SerpAPI unless one was given."""
        if self._source is None:
            from img2img.sources.serpapi.google_images import SerpApiSource

            self._source = SerpApiSource()
        return self._source

    @property
    def reverse_source(self) -> ReverseImageSource:
        """The source ``locate()`` asks; Google Lens through SerpAPI unless one was given."""
        if self._reverse_source is None:
            from img2img.sources.serpapi.google_lens import GoogleLensSource

            self._reverse_source = GoogleLensSource()
        return self._reverse_source

    @property
    def pictures(self) -> PictureCache:
        """The cache of thumbnails and local features ``find_postings`` verifies with."""
        from img2img.postings.cache import PictureCache, cache_for_store

        if not isinstance(self._picture_cache, PictureCache):
            given = self._picture_cache
            self._picture_cache = (
                cache_for_store(self.store) if given is None else PictureCache(given)
            )
            self._owned.append(self._picture_cache)
        return self._picture_cache

    def _candidate_pictures(self) -> CandidatePictures:
        from img2img.postings.pictures import CandidatePictures

        return CandidatePictures(self.pictures, self._read, max_pixels=self._settings.max_pixels)

    def _read(self, url: str) -> bytes:
        return read_bytes(url, self.fetcher)

    def close(self) -> None:
        """Close the fetcher and store this client created."""
        for part in self._owned:
            part.close()
        self._owned.clear()
