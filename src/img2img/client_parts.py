"""The parts an :class:`~img2img.client.ImageSearchClient` works with, and who closes them.

The client holds one :class:`ClientParts` and asks it for each adapter as an
operation needs it. A part that was given is used as it is and left open for
its owner to close; a default part is made only when first needed (so
``add()`` never builds a SerpAPI source, and a client given a fetcher never
opens a connection pool of its own), and is closed with the parts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from img2img.arguments import check_whole
from img2img.closing import Closing
from img2img.errors import ConfigurationError
from img2img.loading import ImageInput, load_image, read_bytes
from img2img.models import EmbeddingSpace, ImageCandidate, IndexReport, ProgressCallback
from img2img.pipeline import IndexSettings, run_index
from img2img.protocols import (
    Embedder,
    Fetcher,
    ImageSource,
    ReverseImageSource,
    TextEmbedder,
    VectorStore,
)
from img2img.stores.space import SpaceOnFirstWrite

if TYPE_CHECKING:
    from PIL import Image

    from img2img.locate.claims import CheckParts
    from img2img.postings.cache import PictureCache
    from img2img.postings.pictures import CandidatePictures
    from img2img.watch.service import WatchList

__all__ = ["ClientParts", "index_settings"]


def index_settings(
    workers: object, batch_size: object, max_pixels: object, regions: bool = True
) -> IndexSettings:
    """The pipeline's settings, each number checked to be a positive whole number."""
    return IndexSettings(
        workers=check_whole("workers", workers),
        batch_size=check_whole("batch_size", batch_size),
        max_pixels=check_whole("max_pixels", max_pixels),
        regions=bool(regions),
    )


class ClientParts(Closing):
    """A client's source, reverse source, embedder, store, fetcher and picture cache.

    Args:
        settings: workers, batch size and pixel limit, already checked.
        embedder: used as given; CLIP ViT-B-32 when ``None`` (its model loads on first use).
        store: used as given; a ``LocalStore`` at ``default_store_path()`` when ``None``.
        source, reverse_source, fetcher: used as given; when ``None``, the
            default is made on first use (Google Images, Google Lens, an ``HttpFetcher``).
        picture_cache: a ``PictureCache``, a path for one, or ``None`` for the
            store's default place (see :func:`~img2img.postings.cache.cache_for_store`).
        keep_pictures: whether indexing keeps a thumbnail of each image in the cache.

    Each operation borrows what it needs through one method: :meth:`read` and
    :meth:`load_image` for images, :meth:`run_index` for the pipeline,
    :meth:`for_locate` for a lookup, :meth:`candidate_pictures` for same-picture
    checks. :meth:`close` closes the parts made here, never the ones given.
    """

    def __init__(
        self,
        *,
        settings: IndexSettings,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        source: ImageSource | None = None,
        reverse_source: ReverseImageSource | None = None,
        fetcher: Fetcher | None = None,
        picture_cache: PictureCache | str | os.PathLike[str] | None = None,
        keep_pictures: bool = True,
    ) -> None:
        self.settings = settings
        self.keep_pictures = keep_pictures
        self._owned: list[Fetcher | VectorStore | PictureCache | WatchList] = []
        if embedder is None:
            from img2img.embedders.clip import ClipEmbedder

            embedder = ClipEmbedder()
        self.embedder: Embedder = embedder
        if store is None:
            from img2img.stores.local.store import LocalStore, default_store_path

            store = LocalStore(default_store_path())
            self._owned.append(store)
        self.store: VectorStore = store
        self._source = source
        self._reverse_source = reverse_source
        self._fetcher = fetcher
        self._picture_cache = picture_cache
        self._watch_list: WatchList | None = None

    @property
    def space(self) -> EmbeddingSpace:
        """The embedding space of the embedder: what the store must hold, or take."""
        return EmbeddingSpace(self.embedder.model_id, self.embedder.dimension)

    def text_embedder(self) -> TextEmbedder:
        """The embedder, if it embeds text as well as images (as CLIP does)."""
        if not isinstance(self.embedder, TextEmbedder):
            raise ConfigurationError(
                f"{self.embedder.model_id} cannot embed text; search by words needs a "
                "TextEmbedder such as ClipEmbedder"
            )
        return self.embedder

    @property
    def source(self) -> ImageSource:
        """Where ``index()`` finds images; Google Images through SerpAPI unless one was given."""
        if self._source is None:
            from img2img.sources.serpapi.google_images import SerpApiSource

            self._source = SerpApiSource()
        return self._source

    @property
    def reverse_source(self) -> ReverseImageSource:
        """What ``locate()`` asks; Google Lens through SerpAPI unless one was given."""
        if self._reverse_source is None:
            from img2img.sources.serpapi.google_lens import GoogleLensSource

            self._reverse_source = GoogleLensSource()
        return self._reverse_source

    def watch_list(self) -> WatchList:
        """The store's watch list, opened on first use beside its picture cache."""
        from img2img.watch.service import WatchList

        if self._watch_list is None:
            self._watch_list = WatchList(self)
            self._owned.append(self._watch_list)
        return self._watch_list

    def engines(self) -> list[ReverseImageSource]:
        """What ``locate()`` asks when no engines are named: the reverse source given,
        else every installed engine whose key is set, else Google Lens (which then
        names the key it needs)."""
        if self._reverse_source is not None:
            return [self._reverse_source]
        from img2img.locate.choice import configured_engines

        return configured_engines() or [self.reverse_source]

    @property
    def fetcher(self) -> Fetcher:
        """What downloads ``http(s)`` images; a safe ``HttpFetcher`` with a connection
        per worker unless one was given."""
        if self._fetcher is None:
            from img2img.net.fetch import HttpFetcher

            self._fetcher = HttpFetcher(max_connections=self.settings.workers)
            self._owned.append(self._fetcher)
        return self._fetcher

    @property
    def pictures(self) -> PictureCache:
        """The cache of thumbnails and local features that same-picture checks read."""
        from img2img.postings.cache import PictureCache, cache_for_store

        if not isinstance(self._picture_cache, PictureCache):
            given = self._picture_cache
            self._picture_cache = (
                cache_for_store(self.store) if given is None else PictureCache(given)
            )
            self._owned.append(self._picture_cache)
        return self._picture_cache

    def read(self, url: str) -> bytes:
        """The bytes at ``url``: ``file://`` from disk, ``http(s)`` through the fetcher."""
        return read_bytes(url, self.fetcher)

    def candidate_pictures(self) -> CandidatePictures:
        """Stored records' pictures, from the cache or downloaded once, for checking."""
        from img2img.postings.pictures import CandidatePictures

        return CandidatePictures(self.pictures, self.read, max_pixels=self.settings.max_pixels)

    def load_image(self, image: ImageInput) -> Image.Image:
        """``image`` (a path, URL, bytes, file, PIL image or array) as one safe RGB image."""
        return load_image(image, self.fetcher, max_pixels=self.settings.max_pixels)

    def run_index(
        self,
        candidates: Iterable[ImageCandidate],
        keyphrase: str | None,
        reindex: bool,
        progress: ProgressCallback | None,
    ) -> IndexReport:
        """Download, embed and store ``candidates`` with these parts (see
        :func:`~img2img.pipeline.run_index`), ``keyphrase`` recorded with each."""
        return run_index(
            candidates,
            keyphrase=keyphrase,
            read=self.read,
            embedder=self.embedder,
            # The space is recorded with the first vector: a run that writes
            # nothing leaves an empty store open to any embedder.
            store=SpaceOnFirstWrite(self.store, self.space),
            settings=replace(self.settings, reindex=reindex),
            progress=progress,
            pictures=self.pictures if self.keep_pictures else None,
        )

    def for_checks(self) -> CheckParts:
        """What checking claims borrows (``locate``, the watch list): the fetcher,
        embedder, store and picture cache."""
        from img2img.locate.claims import CheckParts

        return CheckParts(
            fetcher=self.fetcher,
            embedder=self.embedder,
            store=SpaceOnFirstWrite(self.store, self.space),
            pictures=self.pictures,
            settings=self.settings,
            keep_pictures=self.keep_pictures,
        )

    def close(self) -> None:
        """Close the store, fetcher and picture cache made here; the given ones stay open."""
        for part in self._owned:
            part.close()
        self._owned.clear()
