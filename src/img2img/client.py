"""ImageSearchClient: composes a source, an embedder, a store and a fetcher."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, overload

from img2img.assembly import ClientParts
from img2img.errors import ConfigurationError
from img2img.filters import compile_filter
from img2img.inputs import (
    AddItem,
    candidates_for,
    check_item,
    check_k,
    check_min_score,
)
from img2img.loading import ImageInput, expand_path, load_image
from img2img.models import (
    Filter,
    ImageCandidate,
    IndexReport,
    Match,
    PictureGroup,
    Postings,
    PostingSort,
    ProgressCallback,
)
from img2img.pipeline import run_index
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds
from img2img.protocols import (
    SourceWithParts,
    TextEmbedder,
)
from img2img.stats import StoreStats, store_stats
from img2img.stores.space import SpaceOnFirstWrite, check_accepts, holds_space
from img2img.sync import SyncReport, plan_sync, rewrite_records, sync_report

if TYPE_CHECKING:
    from PIL import Image

    from img2img.locate.results import Located

__all__ = ["ImageSearchClient"]

#: Nearest images a grouped search looks through, at the least, to fill ``k`` pictures.
GROUPED_NEIGHBOURS = 50


class ImageSearchClient(ClientParts):
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
        reverse_source: where ``locate()`` asks which pages show a picture;
            defaults to Google Lens through SerpAPI (``SERPAPI_API_KEY``).

    The client closes the parts it created, not the ones you passed in.
    """

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
                check_item(item)
        check_accepts(self.store, self.space)
        return self._run(candidates_for(items), keyphrase, reindex, progress)

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
            pictures=self.pictures if self._cache_pictures else None,
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
        check_k(k)
        check_min_score(min_score)
        compile_filter(filter)

    def _load(self, image: ImageInput) -> Image.Image:
        return load_image(image, self.fetcher, max_pixels=self._settings.max_pixels)

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

        ``image`` is a path (``~`` expanded), an ``http(s)`` URL, bytes, a binary
        file, a ``PIL.Image`` or a uint8 array. ``filter`` restricts matches by
        metadata, Pinecone style (see docs/filters.md). With ``group=True`` the
        answer is the ``k`` most alike distinct *pictures*, each a
        :class:`~img2img.models.PictureGroup` listing every posting of it
        (verified copies and exact duplicates) among the nearest
        ``max(50, 10 * k)`` images.
        """
        self._check_query(k, filter, min_score)
        picture = self._load(image)
        if not holds_space(self.store, self.space):
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

        self._check_query(k, filter, None)
        query = load_query(image, self.fetcher, max_pixels=self._settings.max_pixels)
        if not holds_space(self.store, self.space):
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

    def locate(
        self,
        image: ImageInput,
        *,
        exact: bool = True,
        similar: bool = False,
        limit: int = 100,
        index: bool = True,
        sites: Sequence[str] = (),
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        progress: ProgressCallback | None = None,
    ) -> Located:
        """Where ``image`` is posted on the web: asked of Google Lens, verified, kept.

        Asks ``reverse_source`` for pages showing the same picture (``exact``)
        and alike ones (``similar``), each a paid search; keeps at most
        ``limit`` claims of each, on ``sites`` if given; downloads each claimed
        image and checks it as ``find_postings`` does (``thresholds``). Copies
        are stored with their provenance unless ``index=False``; nothing else
        is, and stored records are left as they are. Returns a
        :class:`~img2img.locate.results.Located`: the postings, the ``alike``
        and ``rejected`` claims, and what each stage cost. See docs/locate.md.
        """
        from img2img.locate.run import LocateOptions, LocateParts, run_locate

        options = LocateOptions(exact, similar, limit, sites, index, thresholds)
        check_accepts(self.store, self.space)
        parts = LocateParts(
            source=self.reverse_source,
            fetcher=self.fetcher,
            embedder=self.embedder,
            store=SpaceOnFirstWrite(self.store, self.space),
            pictures=self.pictures,
            settings=self._settings,
            keep_pictures=self._cache_pictures,
        )
        return run_locate(image, parts, options, progress=progress)

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
        image first in each. Neighbours are found a page at a time where the
        store can (``LocalStore.query_many``), one query per record otherwise;
        local features are computed for every record with a close neighbour
        (see docs/postings.md).
        """
        from img2img.postings.duplicates import find_duplicates
        from img2img.postings.grouping import GROUP_MIN_COSINE

        self._check_query(k, filter, min_score)
        if not holds_space(self.store, self.space):
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
        self._check_query(k, filter, min_score)
        if not isinstance(text, str):
            raise ConfigurationError(f"search_text takes text, got {type(text).__name__}")
        if not holds_space(self.store, self.space):
            return []
        vector = self.embedder.embed_texts([text])[0]
        return self._query(vector, k, filter, min_score)
