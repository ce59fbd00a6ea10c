"""The watch list as the client offers it: one store's list, and what its checks borrow.

:class:`ImageSearchClient` hands its parts to a :class:`WatchList` on first use;
the client's ``watch``, ``watched``, ``unwatch`` and ``check_watched`` call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from img2img.closing import Closing
from img2img.loading import ImageInput
from img2img.postings.judge import DEFAULT_THRESHOLDS, Thresholds
from img2img.protocols import ImageSource, ReverseImageSource
from img2img.watch.book import WatchBook, WatchedPicture, WatchedPosting
from img2img.watch.check import WatchCheck

if TYPE_CHECKING:
    from img2img.locate.claims import CheckParts
    from img2img.models import EmbeddingSpace
    from img2img.pipeline import IndexSettings
    from img2img.postings.cache import PictureCache
    from img2img.protocols import Fetcher, VectorStore

__all__ = ["WatchList", "WatchParts"]


class WatchParts(Protocol):
    """What a watch list borrows of the client (its ``ClientParts``)."""

    settings: IndexSettings
    store: VectorStore

    @property
    def space(self) -> EmbeddingSpace: ...

    @property
    def fetcher(self) -> Fetcher: ...

    @property
    def pictures(self) -> PictureCache: ...

    def engines(self) -> list[ReverseImageSource]: ...

    def for_checks(self) -> CheckParts: ...


class WatchList(Closing):
    """The watch list kept beside the store's picture cache, and its checks."""

    def __init__(self, parts: WatchParts) -> None:
        from img2img.watch.listing import watch_path_beside

        self._parts = parts
        self.book = WatchBook(watch_path_beside(parts.pictures.path))

    def close(self) -> None:
        self.book.close()

    def add(
        self,
        images: ImageInput | Sequence[ImageInput],
        *,
        engines: Sequence[ReverseImageSource | str],
        sources: Sequence[str],
        label: str | None,
        keyphrase: str,
    ) -> list[WatchedPicture]:
        from img2img.watch.listing import add_to_watch

        return add_to_watch(
            self.book,
            images,
            self._parts.fetcher,
            engines=engines,
            sources=sources,
            label=label,
            keyphrase=keyphrase,
            max_pixels=self._parts.settings.max_pixels,
        )

    def pictures(self) -> list[WatchedPicture]:
        return self.book.pictures()

    def postings(self, picture: str) -> list[WatchedPosting]:
        return [p for id in self.book.resolve(picture) for p in self.book.postings(id)]

    def remove(self, pictures: str | Sequence[str]) -> int:
        given = [pictures] if isinstance(pictures, str) else pictures
        return self.book.remove([id for name in given for id in self.book.resolve(name)])

    def check(
        self,
        *,
        engines: Sequence[ReverseImageSource] | None,
        sources: Mapping[str, ImageSource] | None,
        budget: int | None,
        index: bool = True,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        pictures: Sequence[str] = (),
    ) -> WatchCheck:
        from img2img.locate.engines import Budget
        from img2img.stores.space import check_accepts
        from img2img.watch.check import run_check

        parts = self._parts
        check_accepts(parts.store, parts.space)
        return run_check(
            self.book,
            engines=list(engines) if engines is not None else parts.engines(),
            sources=dict(sources or {}),
            parts=parts.for_checks(),
            budget=Budget(budget),
            thresholds=thresholds,
            index=index,
            only=[id for name in pictures for id in self.book.resolve(name)],
        )
