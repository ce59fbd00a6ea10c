"""ImageSearchClient: checks each call's arguments and hands the work to the module that does
it, with the parts (:class:`~img2img.client_parts.ClientParts`) the client was made with."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, overload

from img2img.adding import AddItem, candidates_for, items_to_add
from img2img.arguments import check_whole
from img2img.client_parts import ClientParts, index_settings
from img2img.closing import Closing
from img2img.errors import ConfigurationError
from img2img.images import DEFAULT_MAX_PIXELS
from img2img.loading import ImageInput, expand_path
from img2img.models import (
    EmbeddingSpace,
    Filter,
    IndexReport,
    Match,
    PictureGroup,
    Postings,
    PostingSort,
    ProgressCallback,
)
from img2img.nearest import check_query, nearest, nearest_pictures
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds
from img2img.protocols import (
    Embedder,
    Fetcher,
    ImageSource,
    ReverseImageSource,
    SourceWithParts,
    VectorStore,
)
from img2img.stats import StoreStats, store_stats
from img2img.stores.space import check_accepts, holds_space
from img2img.sync import SyncReport, sync_folder

if TYPE_CHECKING:
    from img2img.locate.results import Located
    from img2img.postings.cache import PictureCache
    from img2img.watch.book import WatchedPicture, WatchedPosting
    from img2img.watch.check import WatchCheck

__all__ = ["ImageSearchClient"]


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
        reverse_source: where ``locate()`` asks which pages show a picture;
            defaults to Google Lens through SerpAPI (``SERPAPI_API_KEY``).
        index_regions: where an indexed image is a composite (a grid of pictures,
            a picture on a plain background), also store a vector per region, so
            ``find_postings`` finds it for a picture that is ``part`` of it.

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
        reverse_source: ReverseImageSource | None = None,
        index_regions: bool = True,
    ) -> None:
        self._parts = ClientParts(
            settings=index_settings(workers, batch_size, max_pixels, index_regions),
            embedder=embedder,
            store=store,
            source=source,
            reverse_source=reverse_source,
            fetcher=fetcher,
            picture_cache=picture_cache,
            keep_pictures=cache_pictures,
        )

    @property
    def embedder(self) -> Embedder:
        """The embedder every vector of this client is made with."""
        return self._parts.embedder

    @property
    def store(self) -> VectorStore:
        """The store this client writes to and searches."""
        return self._parts.store

    @property
    def space(self) -> EmbeddingSpace:
        """The embedding space of this client's embedder."""
        return self._parts.space

    @property
    def source(self) -> ImageSource:
        """The source ``index()`` uses; Google Images through SerpAPI unless one was given."""
        return self._parts.source

    @property
    def reverse_source(self) -> ReverseImageSource:
        """The source ``locate()`` asks; Google Lens through SerpAPI unless one was given."""
        return self._parts.reverse_source

    @property
    def fetcher(self) -> Fetcher:
        """What downloads ``http(s)`` images; an ``HttpFetcher`` unless one was given."""
        return self._parts.fetcher

    @property
    def pictures(self) -> PictureCache:
        """The cache of thumbnails and local features ``find_postings`` verifies with."""
        return self._parts.pictures

    def close(self) -> None:
        """Close the store, fetcher, picture cache and watch list this client created."""
        self._parts.close()

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
        check_whole("limit", limit)
        check_accepts(self.store, self.space)
        source = self.source
        recorded = keyphrase.strip() or None  # "every image" is not a keyphrase to store
        found = source.discover(keyphrase, limit=limit)
        report = self._parts.run_index(found, recorded, reindex, progress)
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
        items = items_to_add(items)
        check_accepts(self.store, self.space)
        return self._parts.run_index(candidates_for(items), keyphrase, reindex, progress)

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
        check_accepts(self.store, self.space)
        return sync_folder(
            expand_path(folder),
            self.store,
            lambda changed: self._parts.run_index(changed, keyphrase, True, progress),
            checksum=checksum,
        )

    def stats(self) -> StoreStats:
        """What the store holds: the count, the embedding space, and counts by
        keyphrase, domain and source. Reads every record once."""
        return store_stats(self.store)

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
        ``max(50, 10 * k)`` images; each group's ``query_relation`` says
        whether it is the query's picture (``exact``: its bytes, ``copy``) or
        another one (``alike``).
        """
        from img2img.postings.query import load_query

        check_query(k, filter, min_score)
        query = load_query(image, self.fetcher, max_pixels=self._parts.settings.max_pixels)
        if not holds_space(self.store, self.space):
            return []
        vector = self.embedder.embed_images([query.image])[0]
        if not group:
            return nearest(self.store, vector, k, filter, min_score)
        from img2img.postings.query_groups import relate_to_query

        pictures = self._parts.candidate_pictures()
        groups = nearest_pictures(
            self.store, vector, pictures, k=k, filter=filter, min_score=min_score
        )
        return relate_to_query(groups, query.image, query.sha256, pictures)

    def find_postings(
        self,
        image: ImageInput,
        *,
        k: int = 50,
        filter: Filter | None = None,
        sort_by: PostingSort = "match",
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        regions: bool = True,
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

        Composites are found both ways: with ``regions``, the query's regions
        (where it is split, else tiles) are searched too, so a collage or a
        picture-in-picture finds the pictures it ``contains``; and a picture
        that is ``part`` of a stored composite is found through the regions
        stored with it. Such postings carry the ``region`` where one sits in
        the other (see docs/postings.md).
        """
        from img2img.postings.finder import find_postings
        from img2img.postings.query import load_query
        from img2img.postings.shortlist import shortlist

        check_query(k, filter, None)
        query = load_query(image, self.fetcher, max_pixels=self._parts.settings.max_pixels)
        if not holds_space(self.store, self.space):
            return Postings(())
        listed = shortlist(
            query.image, self.embedder, self.store, k=k, filter=filter, regions=regions
        )
        return find_postings(
            query.image,
            listed.matches,
            self._parts.candidate_pictures(),
            sha256=query.sha256,
            exclude_id=query.id,
            thresholds=thresholds,
            sort_by=sort_by,
            regions=listed.regions,
        )

    def locate(
        self,
        image: ImageInput,
        *,
        engines: Sequence[ReverseImageSource] | None = None,
        exact: bool = True,
        similar: bool = False,
        limit: int = 100,
        index: bool = True,
        sites: Sequence[str] = (),
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        max_searches: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Located:
        """Where ``image`` is posted on the web: asked of reverse-search engines, verified, kept.

        Asks every engine in ``engines`` at once (by default the client's
        ``reverse_source`` if one was given, else every installed engine whose
        key is set) for pages showing the same picture (``exact``) and
        alike ones (``similar``); keeps at most ``limit`` claims of each search,
        on ``sites`` if given; merges the claims (an image claimed by several
        engines is downloaded and verified once, naming them all, with the
        earliest date any gives); checks each as ``find_postings`` does
        (``thresholds``). Copies are stored with their provenance unless
        ``index=False``; nothing else is, and stored records are left as they
        are. ``max_searches`` caps the paid searches in all: an engine that
        would exceed it is skipped. An engine that fails leaves the others'
        postings intact; only when every engine asked fails is its error raised.
        Returns a :class:`~img2img.locate.results.Located`: the postings, the
        ``alike`` and ``rejected`` claims, and what each engine and stage cost.
        See docs/locate.md.
        """
        from img2img.locate.run import LocateOptions, LocateParts, run_locate

        options = LocateOptions(exact, similar, limit, sites, index, thresholds, max_searches)
        check_accepts(self.store, self.space)
        asked = list(engines) if engines is not None else self._parts.engines()
        return run_locate(
            image, LocateParts(asked, self._parts.for_checks()), options, progress=progress
        )

    def duplicates(
        self,
        *,
        k: int = 10,
        min_score: float | None = None,
        filter: Filter | None = None,
        batch_size: int = 1000,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
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
        (see docs/postings.md); ``thresholds`` are the verifier's, as for
        ``find_postings``.
        """
        from img2img.postings.duplicates import find_duplicates
        from img2img.postings.grouping import GROUP_MIN_COSINE

        check_query(k, filter, min_score)
        if not holds_space(self.store, self.space):
            return iter(())
        return find_duplicates(
            self.store,
            self._parts.candidate_pictures(),
            k=k,
            min_score=GROUP_MIN_COSINE if min_score is None else min_score,
            filter=filter,
            batch_size=batch_size,
            thresholds=thresholds,
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
        embedder = self._parts.text_embedder()
        check_query(k, filter, min_score)
        if not isinstance(text, str):
            raise ConfigurationError(f"search_text takes text, got {type(text).__name__}")
        if not holds_space(self.store, self.space):
            return []
        vector = embedder.embed_texts([text])[0]
        return nearest(self.store, vector, k, filter, min_score)

    # -- the watch list (docs/watch.md) ----------------------------------------------

    def watch(
        self,
        images: ImageInput | Sequence[ImageInput],
        *,
        engines: Sequence[ReverseImageSource | str] = (),
        sources: Sequence[str] = (),
        label: str | None = None,
        keyphrase: str = "",
    ) -> list[WatchedPicture]:
        """Watch pictures (paths, URLs, bytes, PIL images); checks say where they appear.

        ``engines`` to ask for them (objects or names; none: every engine a check
        is given), ``sources`` to read (by name; a check is given them),
        ``label`` to show (default: the file name), ``keyphrase`` for the sources.
        Watching a picture again updates these.
        """
        return self._parts.watch_list().add(
            images, engines=engines, sources=sources, label=label, keyphrase=keyphrase
        )

    def watched(self) -> list[WatchedPicture]:
        """Every watched picture, in the order added."""
        return self._parts.watch_list().pictures()

    def watched_postings(self, picture: str) -> list[WatchedPosting]:
        """Every posting ever verified for a watched picture (an id, id prefix or label)."""
        return self._parts.watch_list().postings(picture)

    def unwatch(self, pictures: str | Sequence[str]) -> int:
        """Stop watching pictures (ids, id prefixes or labels); how many were watched."""
        return self._parts.watch_list().remove(pictures)

    def check_watched(
        self,
        *,
        engines: Sequence[ReverseImageSource] | None = None,
        sources: Mapping[str, ImageSource] | None = None,
        budget: int | None = None,
        index: bool = True,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        pictures: Sequence[str] = (),
    ) -> WatchCheck:
        """Check the watch list: per picture, the postings new, still there and gone.

        Asks ``engines`` (by default as ``locate`` does) at most ``budget`` paid
        searches in all, reads the ``sources`` each picture names, judges only
        claims not judged before, and fetches each known posting again. A failed
        engine or source is reported and the rest goes on; a stopped check leaves
        the list consistent and the next returns what it could not.
        """
        return self._parts.watch_list().check(
            engines=engines,
            sources=sources,
            budget=budget,
            index=index,
            thresholds=thresholds,
            pictures=pictures,
        )
