"""The indexing pipeline: candidates -> bytes -> images -> vectors -> store.

Downloads and decodes run in a thread pool while the calling thread embeds and
writes finished batches, so the network and the model work at the same time.
At most ``window`` items are in flight, so memory stays bounded however many
candidates a source yields.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    ImageError,
    Img2ImgError,
    InvalidMetadataError,
    InvalidVectorError,
    ModelUnavailableError,
    ServiceError,
    StoreError,
)
from img2img.images import DEFAULT_MAX_PIXELS, decode_image
from img2img.models import (
    Failure,
    ImageCandidate,
    IndexProgress,
    IndexReport,
    ProgressCallback,
    Stage,
    VectorRecord,
)
from img2img.protocols import Embedder, VectorStore
from img2img.provenance import build_metadata, image_id

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["IndexSettings", "StoredCallback", "run_index"]

#: Told each record id the store accepted, with its decoded image (e.g. to cache pixels).
StoredCallback = Callable[[str, "Image.Image"], None]

_SKIP_CHECK_CHUNK = 100


def _systemic(exc: BaseException) -> bool:
    """Whether ``exc`` would stop every item alike, so it ends the run instead of one item.

    A bad key, a service or store that is down, a missing model or package, or
    Ctrl-C; a store's refusal of one record's vector or metadata is not.
    """
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
        return True
    if isinstance(exc, (InvalidVectorError, InvalidMetadataError)):
        return False
    return isinstance(
        exc,
        (
            ServiceError,
            ModelUnavailableError,
            ConfigurationError,
            EmbeddingSpaceMismatchError,
            StoreError,
        ),
    )


def _reason(error: BaseException) -> str:
    """A failure's reason: the message of img2img's own errors; the type of others too."""
    if isinstance(error, Img2ImgError):
        return str(error) or type(error).__name__
    return f"unexpected {type(error).__name__}: {error}" if str(error) else type(error).__name__


class _ItemFailed(Exception):
    """One item failed at ``stage``; carries the error from a worker thread."""

    def __init__(self, stage: Stage, error: Exception) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


@dataclass(frozen=True, slots=True)
class IndexSettings:
    workers: int = 8
    batch_size: int = 32
    max_pixels: int = DEFAULT_MAX_PIXELS
    reindex: bool = False


@dataclass(slots=True)
class _Decoded:
    id: str
    candidate: ImageCandidate
    content: bytes
    image: Image.Image


class _Run:
    """The state of one ``run_index`` call."""

    def __init__(self, keyphrase: str | None, progress: ProgressCallback | None = None) -> None:
        self.keyphrase = keyphrase
        self.started = time.perf_counter()
        self.discovered = 0
        self.fetched = 0
        self.embedded = 0
        self.indexed = 0
        self.skipped = 0
        self.failures: list[Failure] = []
        self._progress = progress
        self._last_progress = IndexProgress()

    def notify(self, *, done: bool = False) -> None:
        """Tell the progress callback, if any, the counts, when they changed."""
        if self._progress is None:
            return
        now = IndexProgress(
            discovered=self.discovered,
            fetched=self.fetched,
            embedded=self.embedded,
            stored=self.indexed,
            skipped=self.skipped,
            failed=len(self.failures),
            done=done,
        )
        if now != self._last_progress:
            self._last_progress = now
            self._progress(now)

    def fail(self, url: str, stage: Stage, error: BaseException) -> None:
        self.failures.append(Failure(url=url, stage=stage, reason=_reason(error)))

    def report(self) -> IndexReport:
        return IndexReport(
            discovered=self.discovered,
            indexed=self.indexed,
            skipped=self.skipped,
            failures=tuple(self.failures),
            elapsed_seconds=time.perf_counter() - self.started,
            keyphrase=self.keyphrase,
        )


def _new_candidates(
    candidates: Iterable[ImageCandidate], store: VectorStore, run: _Run, reindex: bool
) -> Iterator[tuple[str, ImageCandidate]]:
    """Distinct candidates not yet in the store, with their ids; counts the rest as skipped.

    A source that fails after yielding some candidates ends discovery with a
    ``discover`` failure in the report; one that fails at once raises.
    """
    seen: set[str] = set()
    chunk: list[tuple[str, ImageCandidate]] = []

    def flush() -> Iterator[tuple[str, ImageCandidate]]:
        present = set() if reindex else set(store.fetch([i for i, _ in chunk]))
        run.skipped += len(present)
        yield from ((i, c) for i, c in chunk if i not in present)
        chunk.clear()

    iterator = iter(candidates)
    while True:
        try:
            candidate = next(iterator)
        except StopIteration:
            break
        except Img2ImgError as exc:
            if run.discovered == 0:
                raise
            run.fail(run.keyphrase or "", "discover", exc)
            break
        identity = image_id(candidate.image_url)
        if identity in seen:
            continue
        seen.add(identity)
        run.discovered += 1
        chunk.append((identity, candidate))
        if len(chunk) >= _SKIP_CHECK_CHUNK:
            yield from flush()
    yield from flush()


@contextlib.contextmanager
def _cancel_on_exit(pending: dict[Future[_Decoded], ImageCandidate]) -> Iterator[None]:
    """On Ctrl-C or a systemic fault, start none of the queued downloads."""
    try:
        yield
    except BaseException:
        for future in pending:
            future.cancel()
        raise


def run_index(
    candidates: Iterable[ImageCandidate],
    *,
    keyphrase: str | None,
    read: Callable[[str], bytes],
    embedder: Embedder,
    store: VectorStore,
    settings: IndexSettings = IndexSettings(),
    progress: ProgressCallback | None = None,
    on_stored: StoredCallback | None = None,
) -> IndexReport:
    """Index ``candidates``; per-item problems go into the report, systemic ones raise.

    ``progress``, if given, is called on this thread with the counts each time
    they change, and a last time with ``done=True``. ``on_stored``, if given,
    is called on this thread with each record id and image once stored.
    """
    run = _Run(keyphrase, progress)

    def load(identity: str, candidate: ImageCandidate) -> _Decoded:
        try:
            content = read(candidate.image_url)
        except Exception as exc:
            if _systemic(exc):
                raise
            raise _ItemFailed("decode" if isinstance(exc, ImageError) else "fetch", exc) from exc
        try:
            image = decode_image(content, max_pixels=settings.max_pixels)
        except Exception as exc:
            if _systemic(exc):
                raise
            raise _ItemFailed("decode", exc) from exc
        return _Decoded(identity, candidate, content, image)

    batch: list[_Decoded] = []
    window = max(settings.workers * 4, settings.batch_size)
    pending: dict[Future[_Decoded], ImageCandidate] = {}
    with (
        ThreadPoolExecutor(settings.workers, thread_name_prefix="img2img-fetch") as pool,
        _cancel_on_exit(pending),
    ):
        todo = _new_candidates(candidates, store, run, settings.reindex)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < window:
                item = next(todo, None)
                if item is None:
                    exhausted = True
                else:
                    pending[pool.submit(load, *item)] = item[1]
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                candidate = pending.pop(future)
                try:
                    batch.append(future.result())
                    run.fetched += 1
                except _ItemFailed as failed:
                    run.fail(candidate.image_url, failed.stage, failed.error)
            run.notify()
            while len(batch) >= settings.batch_size:
                _write(batch[: settings.batch_size], run, embedder, store, on_stored)
                batch = batch[settings.batch_size :]
                run.notify()
    if batch:
        _write(batch, run, embedder, store, on_stored)
    run.notify(done=True)
    return run.report()


def _write(
    batch: list[_Decoded],
    run: _Run,
    embedder: Embedder,
    store: VectorStore,
    on_stored: StoredCallback | None = None,
) -> None:
    """Embed and upsert one batch. A bad item is isolated by retrying one at a time."""
    try:
        vectors = embedder.embed_images([d.image for d in batch])
        if len(vectors) != len(batch):
            raise ValueError(
                f"the embedder returned {len(vectors)} vectors for {len(batch)} images"
            )
    except Exception as exc:
        if _systemic(exc):
            raise
        if len(batch) == 1:
            run.fail(batch[0].candidate.image_url, "embed", exc)
            return
        for item in batch:
            _write([item], run, embedder, store, on_stored)
        return
    run.embedded += len(batch)
    try:
        records = [
            VectorRecord(
                id=d.id,
                vector=vectors[i],
                metadata=build_metadata(
                    d.candidate, keyphrase=run.keyphrase, content=d.content, image=d.image
                ),
            )
            for i, d in enumerate(batch)
        ]
        store.upsert(records)
    except Exception as exc:
        if _systemic(exc):
            raise
        if len(batch) == 1:
            run.fail(batch[0].candidate.image_url, "store", exc)
            return
        run.embedded -= len(batch)  # counted again as each item is retried alone
        for item in batch:
            _write([item], run, embedder, store, on_stored)
        return
    run.indexed += len(records)
    if on_stored is not None:
        for item in batch:
            on_stored(item.id, item.image)
