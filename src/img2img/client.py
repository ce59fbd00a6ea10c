"""ImageSearchClient: composes a source, an embedder, a store and a fetcher."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload
from urllib.parse import urlsplit

from img2img.closing import Closing
from img2img.errors import ConfigurationError
from img2img.images import DEFAULT_MAX_PIXELS
from img2img.loading import ImageInput, load_image, read_bytes
from img2img.models import (
    EmbeddingSpace,
    Filter,
    ImageCandidate,
    IndexReport,
    Match,
    PictureGroup,
    Postings,
    PostingSort,
    ProgressCallback,
)
from img2img.pipeline import IndexSettings, run_index
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds
from img2img.protocols import Embedder, Fetcher, ImageSource, TextEmbedder, VectorStore
from img2img.sources.folder import FolderSource, candidate_for_path
from img2img.stores.validation import check_same_space

if TYPE_CHECKING:
    from img2img.postings.cache import PictureCache
    from img2img.postings.pictures import CandidatePictures

__all__ = ["ImageSearchClient"]

AddItem = str | os.PathLike[str] | ImageCandidate
#: Nearest images a grouped search looks through, at the least, to fill ``k`` pictures.
GROUPED_NEIGHBOURS = 50


def _candidates_for(items: Iterable[AddItem]) -> Iterator[ImageCandidate]:
    for item in items:
        if isinstance(item, ImageCandidate):
            yield item
            continue
        text = os.fspath(item)
        if urlsplit(text).scheme in ("http", "https", "file"):
            yield ImageCandidate(image_url=text)
        elif Path(text).is_dir():
            yield from FolderSource(text).discover("", limit=2**62)
        else:
            yield candidate_for_path(Path(text))


class ImageSearchClient(Closing):
    """Index images and find where an image, or one like it, is posted.

    Args:
        source: where ``index()`` finds images for a keyphrase; defaults to
            Google Images through SerpAPI, which needs a key in ``SERPAPI_API_KEY``
            (``add()`` needs no source).
        embedder: turns images into vectors; defaults to CLIP ViT-B-32.
        store: holds vectors and provenance; defaults to a ``LocalStore`` at
            ``default_store_path()`` (``$IMG2IMG_HOME/index.sqlite3``, else
            ``~/.local/share/img2img/index.sqlite3``).
        fetcher: downloads ``http(s)`` images; defaults to a safe ``HttpFetcher``.
        workers: downloads in flight at once.
        batch_size: images per embedding call.
        max_pixels: larger images are refused as decompression bombs.
        picture_cache: where thumbnails and local features of stored images are
            kept for ``find_postings`` (a ``PictureCache`` or a file path); by
            default beside a ``LocalStore``'s file, in memory for an
            ``InMemoryStore``, else in the user's cache folder (see docs/postings.md).
        cache_pictures: keep a thumbnail of each image as it is indexed, so
            ``find_postings`` need not download it again later.

    The client closes the parts it created, not the ones you passed in.
    """

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
    ) -> None:
        if workers < 1 or batch_size < 1:
            raise ConfigurationError("workers and batch_size must be at least 1")
        self._owned: list[Fetcher | VectorStore | PictureCache] = []
        self._source = source
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

    def index(
        self,
        keyphrase: str,
        *,
        limit: int = 100,
        reindex: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IndexReport:
        """Discover up to ``limit`` images for ``keyphrase``, download, embed and store them.

        Images already in the store are skipped unless ``reindex``. One bad image
        never stops the run: it becomes a ``Failure`` in the report. ``progress``
        is called with an :class:`~img2img.models.IndexProgress` as counts change.
        """
        if not keyphrase.strip():
            raise ConfigurationError("keyphrase is empty")
        if limit < 1:
            raise ConfigurationError(f"limit must be at least 1, got {limit}")
        self.store.set_embedding_space(self.space)
        return self._run(self.source.discover(keyphrase, limit=limit), keyphrase, reindex, progress)

    def add(
        self,
        items: Iterable[AddItem],
        *,
        keyphrase: str | None = None,
        reindex: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IndexReport:
        """Index images you already have: local paths and folders, URLs or ``ImageCandidate`` s.

        ``progress`` is as for :meth:`index`.
        """
        if isinstance(items, (str, os.PathLike, ImageCandidate)):
            items = [items]
        self.store.set_embedding_space(self.space)
        return self._run(_candidates_for(items), keyphrase, reindex, progress)

    def _run(
        self,
        candidates: Iterable[ImageCandidate],
        keyphrase: str | None,
        reindex: bool,
        progress: ProgressCallback | None,
    ) -> IndexReport:
        settings = replace(self._settings, reindex=reindex)
        return run_index(
            candidates,
            keyphrase=keyphrase,
            read=self._read,
            embedder=self.embedder,
            store=self.store,
            settings=settings,
            progress=progress,
            on_stored=self.pictures.put_image if self._cache_pictures else None,
        )

    def _query(
        self, vector: object, k: int, filter: Filter | None, min_score: float | None
    ) -> list[Match]:
        import numpy as np

        matches = self.store.query(np.asarray(vector, dtype=np.float32), k=k, filter=filter)
        if min_score is not None:
            matches = [m for m in matches if m.score >= min_score]
        return matches

    def _check_space(self) -> bool:
        """False for a store never written to; raises when it holds another space."""
        recorded = self.store.embedding_space()
        check_same_space(recorded, self.space)
        return recorded is not None

    @overload
    def search(
        self,
        image: ImageInput,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
        group: Literal[False] = False,
    ) -> list[Match]: ...

    @overload
    def search(
        self,
        image: ImageInput,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
        group: Literal[True],
    ) -> list[PictureGroup]: ...

    @overload
    def search(
        self,
        image: ImageInput,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
        group: bool,
    ) -> list[Match] | list[PictureGroup]: ...

    def search(
        self,
        image: ImageInput,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
        group: bool = False,
    ) -> list[Match] | list[PictureGroup]:
        """The ``k`` stored images most like ``image``, best first.

        ``image`` is a path, an ``http(s)`` URL, bytes or a ``PIL.Image``.
        ``filter`` restricts matches by metadata, Pinecone style (see docs/filters.md).
        With ``group=True`` the answer is the ``k`` most alike distinct *pictures*,
        each a :class:`~img2img.models.PictureGroup` listing every posting of it
        (verified copies and exact duplicates) among the nearest
        ``max(50, 10 * k)`` images.
        """
        picture = load_image(image, self.fetcher, max_pixels=self._settings.max_pixels)
        if not self._check_space():
            return []
        vector = self.embedder.embed_images([picture])[0]
        if not group:
            return self._query(vector, k, filter, min_score)
        from img2img.postings.grouping import group_matches

        matches = self._query(vector, max(GROUPED_NEIGHBOURS, 10 * k), filter, min_score)
        records = self.store.fetch([m.id for m in matches])
        vectors = {i: r.vector for i, r in records.items()}
        return group_matches(matches, vectors, self._candidate_pictures(), k=k)

    def find_postings(
        self,
        image: ImageInput,
        *,
        k: int = 50,
        filter: Filter | None = None,
        sort_by: PostingSort = "match",
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
    ) -> Postings:
        """Every stored posting of the same picture as ``image``: where it is posted.

        Shortlists the ``k`` nearest images by embedding, then checks each: the
        same bytes are ``exact``; otherwise local features and a geometric fit
        decide whether it is a ``copy`` (resized, re-encoded, cropped, rotated,
        recoloured, overlaid, bordered or mirrored), with the evidence. Other
        photos of the same thing are left out: ``search`` finds those.
        Candidates whose image cannot be had (a deleted page, a cache without
        them) are listed in ``Postings.unverified``. The query's own record
        (the same URL or file) is left out. See docs/postings.md for the
        thresholds and the cost; ``sort_by`` orders the result (see
        :data:`~img2img.models.PostingSort`).
        """
        from img2img.postings.finder import find_postings
        from img2img.postings.query import load_query

        query = load_query(image, self.fetcher, max_pixels=self._settings.max_pixels)
        if not self._check_space():
            return Postings(())
        vector = self.embedder.embed_images([query.image])[0]
        return find_postings(
            query.image,
            self._query(vector, k, filter, None),
            self._candidate_pictures(),
            sha256=query.sha256,
            exclude_id=query.id,
            thresholds=thresholds,
            sort_by=sort_by,
        )

    def duplicates(
        self,
        *,
        k: int = 10,
        min_score: float | None = None,
        filter: Filter | None = None,
        batch_size: int = 1000,
    ) -> Iterator[PictureGroup]:
        """Every picture posted more than once in the store, as groups of its postings.

        Each record is compared with its ``k`` nearest neighbours (those scoring
        at least ``min_score``; default
        :data:`~img2img.postings.grouping.GROUP_MIN_COSINE`), verified as
        ``find_postings`` does. The store is read ``batch_size`` records at a
        time and only links between duplicates are held, so large stores fit in
        memory; groups are yielded once the whole store has been read, largest
        image first in each. Costs one store query per record, and local
        features for every record with a close neighbour (see docs/postings.md).
        """
        from img2img.postings.duplicates import find_duplicates
        from img2img.postings.grouping import GROUP_MIN_COSINE

        if not self._check_space():
            return iter(())
        return find_duplicates(
            self.store,
            self._candidate_pictures(),
            k=k,
            min_score=GROUP_MIN_COSINE if min_score is None else min_score,
            filter=filter,
            batch_size=batch_size,
        )

    def search_text(
        self,
        text: str,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
    ) -> list[Match]:
        """The ``k`` stored images that best fit a description; needs a text embedder (CLIP)."""
        if not isinstance(self.embedder, TextEmbedder):
            raise ConfigurationError(
                f"{self.embedder.model_id} cannot embed text; search by words needs a "
                "TextEmbedder such as ClipEmbedder"
            )
        if not self._check_space():
            return []
        vector = self.embedder.embed_texts([text])[0]
        return self._query(vector, k, filter, min_score)

    def close(self) -> None:
        """Close the fetcher and store this client created."""
        for part in self._owned:
            part.close()
        self._owned.clear()
