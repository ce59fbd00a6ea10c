"""ImageSearchClient: composes a source, an embedder, a store and a fetcher."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from img2img.closing import Closing
from img2img.errors import ConfigurationError, FetchError
from img2img.filters import compile_filter
from img2img.images import DEFAULT_MAX_PIXELS
from img2img.loading import ImageInput, expand_path, load_image, read_bytes, to_url
from img2img.models import (
    EmbeddingSpace,
    Filter,
    ImageCandidate,
    IndexReport,
    Match,
    ProgressCallback,
)
from img2img.pipeline import IndexSettings, run_index
from img2img.protocols import (
    Embedder,
    Fetcher,
    ImageSource,
    SourceWithParts,
    TextEmbedder,
    VectorStore,
)
from img2img.provenance import difference_hash, hamming_distance
from img2img.sources.folder import FolderSource, candidate_for_path
from img2img.stats import StoreStats, store_stats
from img2img.stores.space import SpaceOnFirstWrite, check_accepts, holds_space
from img2img.sync import SyncReport, plan_sync, rewrite_records, sync_report

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageSearchClient"]

AddItem = str | os.PathLike[str] | ImageCandidate


def _check_item(item: object) -> None:
    if not isinstance(item, (str, os.PathLike, ImageCandidate)):
        raise ConfigurationError(
            "add() takes paths, folders, URLs or ImageCandidates; "
            f"got {type(item).__name__}: {item!r:.80}"
        )


def _candidates_for(items: Iterable[AddItem]) -> Iterator[ImageCandidate]:
    for item in items:
        _check_item(item)
        if isinstance(item, ImageCandidate):
            yield item
            continue
        text = os.fsdecode(os.fspath(item))
        try:
            url = to_url(text)
            if url == text:  # a URL, not a path
                yield ImageCandidate(image_url=url)
                continue
            path = expand_path(text)
            found = (
                list(FolderSource(path).discover("", limit=2**62))
                if path.is_dir()
                else [candidate_for_path(path)]
            )
        except (FetchError, OSError, RuntimeError, ValueError):
            # A path no file can have: still one item, which fails when it is read.
            yield ImageCandidate(image_url=text)
            continue
        yield from found


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive whole number, got {k!r}")
    return k


def _check_min_score(min_score: object) -> None:
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, (int, float))
        or math.isnan(min_score)
    ):
        raise ConfigurationError(f"min_score must be a number or None, got {min_score!r}")


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
    ) -> None:
        for name, value in (
            ("workers", workers),
            ("batch_size", batch_size),
            ("max_pixels", max_pixels),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"{name} must be a whole number of at least 1, got {value!r}"
                )
        self._owned: list[Fetcher | VectorStore] = []
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
        never stops the run: it becomes a ``Failure`` in the report, and the parts
        a :class:`~img2img.protocols.SourceWithParts` could not read (a forbidden
        channel) are listed in its ``part_failures``. ``progress`` is called with
        an :class:`~img2img.models.IndexProgress` as counts change.

        An empty ``keyphrase`` is the source's to judge: sources that can list
        everything they read (Discord channels, a Patreon campaign, subreddits'
        newest posts, a folder) take every image; search engines (Google Images,
        Bluesky) raise :class:`~img2img.errors.ConfigurationError`.
        """
        if not isinstance(keyphrase, str):
            raise ConfigurationError(f"keyphrase must be text, got {keyphrase!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be a whole number of at least 1, got {limit!r}")
        check_accepts(self.store, self.space)
        source = self.source
        recorded = keyphrase.strip() or None  # "every image" is not a keyphrase to store
        report = self._run(source.discover(keyphrase, limit=limit), recorded, reindex, progress)
        if isinstance(source, SourceWithParts) and source.failures:
            report = replace(report, part_failures=tuple(source.failures))
        return report

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
        if isinstance(items, Sequence):  # a generator is checked as it is read
            for item in items:
                _check_item(item)
        check_accepts(self.store, self.space)
        return self._run(_candidates_for(items), keyphrase, reindex, progress)

    def sync(
        self,
        folder: str | os.PathLike[str],
        *,
        keyphrase: str | None = None,
        checksum: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """Bring the store in step with the image files under ``folder``.

        New files are embedded, files whose content changed are embedded again,
        renamed or copied files reuse their stored vector under the new path,
        and records of files that are gone are deleted. A file whose size and
        modification time are as recorded is not read, unless ``checksum``.
        ``keyphrase`` is recorded with the files embedded now; ``progress`` is
        as for :meth:`index`, for the embedding. See :mod:`img2img.sync`.
        """
        started = time.perf_counter()
        check_accepts(self.store, self.space)
        plan = plan_sync(expand_path(folder), self.store, checksum=checksum)
        rewrite_records(self.store, plan.rewrites)
        if plan.delete:
            self.store.delete(plan.delete)
        embedded = self._run(plan.embed, keyphrase, True, progress)
        return sync_report(plan, embedded, started)

    def stats(self) -> StoreStats:
        """What the store holds: the count, the embedding space, and counts by
        keyphrase, domain and source. Reads every record once."""
        return store_stats(self.store)

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
            # The space is recorded with the first vector: a run that writes
            # nothing leaves an empty store open to any embedder.
            store=SpaceOnFirstWrite(self.store, self.space),
            settings=settings,
            progress=progress,
        )

    def _query(
        self, vector: object, k: int, filter: Filter | None, min_score: float | None
    ) -> list[Match]:
        import numpy as np

        matches = self.store.query(np.asarray(vector, dtype=np.float32), k=k, filter=filter)
        if min_score is not None:
            matches = [m for m in matches if m.score >= min_score]
        return matches

    def _check_query(self, k: object, filter: Filter | None, min_score: object) -> None:
        """Refuse bad arguments before any image is read or embedded."""
        _check_k(k)
        _check_min_score(min_score)
        compile_filter(filter)

    def _load(self, image: ImageInput) -> Image.Image:
        return load_image(image, self.fetcher, max_pixels=self._settings.max_pixels)

    def search(
        self,
        image: ImageInput,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
    ) -> list[Match]:
        """The ``k`` stored images most like ``image``, best first.

        ``image`` is a path, an ``http(s)`` URL, bytes or a ``PIL.Image``.
        ``filter`` restricts matches by metadata, Pinecone style (see docs/filters.md).
        """
        self._check_query(k, filter, min_score)
        picture = self._load(image)
        if not holds_space(self.store, self.space):
            return []
        vector = self.embedder.embed_images([picture])[0]
        return self._query(vector, k, filter, min_score)

    def find_copies(
        self,
        image: ImageInput,
        *,
        max_distance: int = 10,
        k: int = 100,
        filter: Filter | None = None,
    ) -> list[Match]:
        """Other postings of the same picture: resized, re-encoded or lightly edited copies.

        Takes the ``k`` nearest images and keeps those whose perceptual hash
        (``dhash``) differs from the query's in at most ``max_distance`` of 64
        bits. Precise, but blind to heavy crops and overlays: for those use
        ``search`` with a ``min_score``.
        """
        self._check_query(k, filter, None)
        if isinstance(max_distance, bool) or not isinstance(max_distance, int):
            raise ConfigurationError(f"max_distance must be a whole number, got {max_distance!r}")
        picture = self._load(image)
        if not holds_space(self.store, self.space):
            return []
        query_hash = difference_hash(picture)
        vector = self.embedder.embed_images([picture])[0]
        return [
            match
            for match in self._query(vector, k, filter, None)
            if isinstance(dhash := match.metadata.get("dhash"), str)
            and hamming_distance(query_hash, dhash) <= max_distance
        ]

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
        self._check_query(k, filter, min_score)
        if not isinstance(text, str):
            raise ConfigurationError(f"search_text takes text, got {type(text).__name__}")
        if not holds_space(self.store, self.space):
            return []
        vector = self.embedder.embed_texts([text])[0]
        return self._query(vector, k, filter, min_score)

    def close(self) -> None:
        """Close the fetcher and store this client created."""
        for part in self._owned:
            part.close()
        self._owned.clear()
