"""The indexing pipeline: candidates -> bytes -> images -> vectors -> store.

Download threads only download; a workshop of one thread per core decodes,
hashes and prepares each image (resize and normalise for the model, when the
embedder can do that apart from the model), so the downloads stay in flight
while images are decoded, and the calling thread only runs the model and
writes to the store, never waiting for the CPU work of the next batch. At
most ``window`` items are in flight, and at most ``workers`` downloaded
images wait for the workshop, so memory stays bounded however many
candidates a source yields.

Nothing is done twice (see :mod:`img2img.dedup`): stored ids are skipped
before download, and bytes already embedded reuse their vector.

Ctrl-C stops the run at once: queued downloads are cancelled, the batch being
embedded is dropped, and :class:`~img2img.models.IndexInterrupted` carries the
report of what was stored.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from img2img.cores import available_cores
from img2img.dedup import ContentIndex, new_candidates, signature_fields
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
    IndexInterrupted,
    IndexProgress,
    IndexReport,
    ProgressCallback,
    Stage,
    Vector,
    VectorRecord,
)
from img2img.protocols import Embedder, PreparingEmbedder, VectorStore
from img2img.provenance import build_metadata

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Gate", "IndexSettings", "PictureKeeper", "run_index"]


class PictureKeeper(Protocol):
    """Keeps a small picture of each stored image (the postings' picture cache).

    ``shrink`` runs on a workshop thread with the decoded image and the bytes
    it was decoded from, and returns what to keep (``None`` to keep nothing);
    ``keep`` runs on the calling thread once the store holds the record, with
    the original image's size.
    """

    def shrink(self, image: Image.Image, source: bytes | None = None) -> bytes | None: ...

    def keep(self, id: str, picture: bytes, width: int, height: int) -> None: ...


class Gate(Protocol):
    """Decides, once an image is downloaded and decoded, whether it goes on to the store.

    ``admit`` runs on a workshop thread (so it must be thread-safe) with the
    record id, the candidate, the decoded RGB image and the sha256 (hex) of
    the downloaded bytes. ``True`` lets the image be embedded and stored;
    ``False`` drops it before the model sees it, counted in the report as
    ``refused``. The gate keeps its own account of why. An exception fails
    that one item at stage ``verify`` (or ends the run, if systemic).
    """

    def admit(
        self, id: str, candidate: ImageCandidate, image: Image.Image, sha256: str
    ) -> bool: ...


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


class _ItemRefused(Exception):
    """The gate turned this item away; not a failure."""


class _ItemFailed(Exception):
    """One item failed at ``stage``; carries the error from a download or workshop thread."""

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

    @property
    def window(self) -> int:
        """Items in flight at most (queued, downloading, or in the workshop); with one
        batch waiting, the items held in memory."""
        return max(self.workers * 4, self.batch_size)


@dataclass(slots=True)
class _Item:
    """One downloaded image, ready for the model: ``prepared`` is False when ``payload``
    is the decoded image rather than the embedder's prepared input."""

    id: str
    candidate: ImageCandidate
    sha256: str
    metadata: dict[str, Any]
    payload: Any
    prepared: bool
    picture: bytes | None = None


class _Interrupts:
    """Holds Ctrl-C back while a batch is written, so every write is whole and counted.

    Only on the main thread, and only while Python's own SIGINT handler is in
    place: a program with a handler of its own keeps it.
    """

    def __init__(self) -> None:
        self._held = 0
        self._pending = False
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._held:
            self._pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> _Interrupts:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    @contextmanager
    def held(self) -> Iterator[None]:
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self._pending = False
                raise KeyboardInterrupt


class _Run:
    """The state of one ``run_index`` call."""

    def __init__(self, keyphrase: str | None, progress: ProgressCallback | None = None) -> None:
        self.keyphrase = keyphrase
        self.started = time.perf_counter()
        self.discovered = 0
        self.fetched = 0
        self.embedded = 0
        self.reused = 0
        self.indexed = 0
        self.skipped = 0
        self.refused = 0
        self.failures: list[Failure] = []
        self._progress = progress
        self._last_progress = IndexProgress()
        self.interrupts = _Interrupts()

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
            reused=self.reused,
            refused=self.refused,
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
            reused=self.reused,
            refused=self.refused,
        )


def _loader(
    read: Callable[[str], bytes],
    embedder: Embedder,
    keyphrase: str | None,
    max_pixels: int,
    pictures: PictureKeeper | None,
    gate: Gate | None,
    workshop: _Workshop,
) -> Callable[[str, ImageCandidate], Future[_Item]]:
    """The work of one download thread for one candidate: download it, then hand it to
    the workshop to be decoded, hashed and prepared, and go on to the next download.

    Whatever goes wrong with this one candidate becomes an :class:`_ItemFailed`
    naming the stage; only systemic faults pass as they are. An image the
    gate turns away raises :class:`_ItemRefused`.
    """
    preparing = isinstance(embedder, PreparingEmbedder)

    def stage(name: Stage, step: Callable[[], Any]) -> Any:
        try:
            return step()
        except Exception as exc:
            if _systemic(exc):
                raise
            raise _ItemFailed("decode" if isinstance(exc, ImageError) else name, exc) from exc

    def download(identity: str, candidate: ImageCandidate) -> Future[_Item]:
        # Stat before reading: a file changed in between looks changed next time.
        signature = stage("fetch", lambda: signature_fields(candidate.image_url))
        content: bytes = stage("fetch", lambda: read(candidate.image_url))
        return workshop.submit(process, identity, candidate, content, signature)

    def process(
        identity: str, candidate: ImageCandidate, content: bytes, signature: dict[str, Any]
    ) -> _Item:
        image = stage("decode", lambda: decode_image(content, max_pixels=max_pixels))
        metadata = stage(
            "decode",
            lambda: build_metadata(candidate, keyphrase=keyphrase, content=content, image=image),
        )
        metadata.update(signature)
        if gate is not None and not stage(
            "verify", lambda: gate.admit(identity, candidate, image, str(metadata["sha256"]))
        ):
            raise _ItemRefused
        payload: Any = image
        if preparing:
            try:
                payload = embedder.prepare(image)  # type: ignore[attr-defined]
            except Exception as exc:
                if _systemic(exc):
                    raise
                payload = image  # embedded whole on the model thread, where failures are isolated
        picture = pictures.shrink(image, content) if pictures is not None else None
        return _Item(
            identity,
            candidate,
            str(metadata["sha256"]),
            metadata,
            payload,
            payload is not image,
            picture,
        )

    return download


class _Workshop:
    """The CPU work on downloaded images (decode, hash, prepare), on one thread per core.

    Downloads spend most of their time waiting on the network; with the CPU
    work on the download threads too, a thread busy decoding is a download
    not in flight, and dozens of threads decoding at once only take turns.
    Apart, the downloads keep the network busy and a few threads the cores.
    At most ``backlog`` downloaded images wait here; a download thread with
    one more waits too, so memory stays bounded.
    """

    def __init__(self, backlog: int) -> None:
        self._pool = ThreadPoolExecutor(available_cores(), thread_name_prefix="img2img-prepare")
        self._room = threading.BoundedSemaphore(backlog)

    def submit(self, work: Callable[..., _Item], *args: Any) -> Future[_Item]:
        self._room.acquire()
        try:
            future = self._pool.submit(work, *args)
        except BaseException:
            self._room.release()
            raise
        future.add_done_callback(lambda _: self._room.release())
        return future

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


def run_index(
    candidates: Iterable[ImageCandidate],
    *,
    keyphrase: str | None,
    read: Callable[[str], bytes],
    embedder: Embedder,
    store: VectorStore,
    settings: IndexSettings = IndexSettings(),
    progress: ProgressCallback | None = None,
    pictures: PictureKeeper | None = None,
    gate: Gate | None = None,
) -> IndexReport:
    """Index ``candidates``; per-item problems go into the report, systemic ones raise.

    ``progress``, if given, is called on this thread with the counts each time
    they change, and a last time with ``done=True``. ``KeyboardInterrupt``
    (Ctrl-C, or raised by ``progress``) stops the run within moments and raises
    :class:`~img2img.models.IndexInterrupted`, whose ``report`` counts what was
    stored: every record counted there is in the store. ``pictures``, if given,
    keeps a small picture of every stored image. ``gate``, if given, sees every
    decoded image before the model does and may keep it out of the store.
    """
    run = _Run(keyphrase, progress)
    known = ContentIndex(
        store,
        embedder.dimension,
        consult_store=not settings.reindex and store.count() > 0,
    )
    workshop = _Workshop(backlog=settings.workers)
    load = _loader(read, embedder, keyphrase, settings.max_pixels, pictures, gate, workshop)
    pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="img2img-fetch")
    finished = False
    try:
        with run.interrupts:
            todo = new_candidates(
                candidates,
                store,
                run,
                reindex=settings.reindex,
                on_discover_error=lambda exc: run.fail(run.keyphrase or "", "discover", exc),
            )
            batches = _ready_batches(todo, pool, load, run, settings)
            for batch in batches:
                _write(batch, run, embedder, store, known, pictures)
                run.notify()
        finished = True
    except KeyboardInterrupt as exc:
        pool.shutdown(wait=False, cancel_futures=True)
        workshop.shutdown(wait=False)
        raise IndexInterrupted(run.report()) from exc
    finally:
        # Downloads still running after an error are not waited for; they end
        # on their own deadline, and their results are dropped.
        pool.shutdown(wait=finished, cancel_futures=True)
        workshop.shutdown(wait=finished)
    run.notify(done=True)
    return run.report()


def _ready_batches(
    todo: Iterator[tuple[str, ImageCandidate]],
    pool: ThreadPoolExecutor,
    load: Callable[[str, ImageCandidate], Future[_Item]],
    run: _Run,
    settings: IndexSettings,
) -> Iterator[list[_Item]]:
    """Keep up to ``settings.window`` items in flight (downloading, or in the workshop);
    yield full batches of loaded items as they are ready, and the rest at the end."""
    pending: dict[Future[Any], ImageCandidate] = {}
    batch: list[_Item] = []
    exhausted = False
    while pending or not exhausted:
        while not exhausted and len(pending) < settings.window:
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
                result = future.result()
            except _ItemRefused:
                run.refused += 1
            except _ItemFailed as failed:
                run.fail(candidate.image_url, failed.stage, failed.error)
            else:
                if isinstance(result, Future):  # downloaded, now in the workshop
                    pending[result] = candidate
                else:
                    batch.append(result)
                    run.fetched += 1
        run.notify()
        while len(batch) >= settings.batch_size:
            yield batch[: settings.batch_size]
            batch = batch[settings.batch_size :]
    if batch:
        yield batch


def _embed(embedder: Embedder, items: Sequence[_Item]) -> Vector:
    """Vectors for ``items``: float32 ``(len(items), dim)``, prepared inputs batched together."""
    import numpy as np

    if all(item.prepared for item in items):
        vectors: Vector = embedder.embed_prepared([i.payload for i in items])  # type: ignore[attr-defined]
        return vectors
    if not any(item.prepared for item in items):
        return embedder.embed_images([item.payload for item in items])
    out = np.zeros((len(items), embedder.dimension), dtype=np.float32)
    for prepared in (True, False):
        rows = [n for n, item in enumerate(items) if item.prepared is prepared]
        out[rows] = _embed(embedder, [items[n] for n in rows])
    return out


def _embed_isolated(items: Sequence[_Item], run: _Run, embedder: Embedder) -> list[Vector | None]:
    """One vector per item, ``None`` where embedding failed; a bad item is isolated by
    retrying one at a time."""
    if not items:
        return []
    try:
        vectors = _embed(embedder, items)
        if len(vectors) != len(items):
            raise ValueError(
                f"the embedder returned {len(vectors)} vectors for {len(items)} images"
            )
    except Exception as exc:
        if _systemic(exc):
            raise
        if len(items) == 1:
            run.fail(items[0].candidate.image_url, "embed", exc)
            return [None]
        return [_embed_isolated([item], run, embedder)[0] for item in items]
    run.embedded += len(items)
    return list(vectors)


def _write(
    batch: list[_Item],
    run: _Run,
    embedder: Embedder,
    store: VectorStore,
    known: ContentIndex,
    pictures: PictureKeeper | None,
) -> None:
    """Embed the batch's new content once per sha256, reuse known vectors, upsert all."""
    vectors = known.lookup([item.sha256 for item in batch])
    first_of: dict[str, _Item] = {}
    for item in batch:
        if item.sha256 not in vectors:
            first_of.setdefault(item.sha256, item)
    fresh = list(first_of.values())
    for item, vector in zip(fresh, _embed_isolated(fresh, run, embedder), strict=True):
        if vector is not None:
            vectors[item.sha256] = vector
            known.remember(item.sha256, vector)
    for item in batch:
        if item.sha256 not in vectors and first_of[item.sha256] is not item:
            reason = f"same bytes as {first_of[item.sha256].candidate.image_url}, which failed"
            run.fail(item.candidate.image_url, "embed", Exception(reason))
    records = [
        VectorRecord(id=item.id, vector=vectors[item.sha256], metadata=item.metadata)
        for item in batch
        if item.sha256 in vectors
    ]
    with run.interrupts.held():
        stored = _upsert_isolated(records, batch, run, store)
        run.indexed += len(stored)
        run.reused += sum(
            1 for item in batch if item.id in stored and first_of.get(item.sha256) is not item
        )
    if pictures is not None:
        for item in batch:
            if item.id in stored and item.picture is not None:
                width, height = item.metadata["width"], item.metadata["height"]
                pictures.keep(item.id, item.picture, int(width), int(height))


def _upsert_isolated(
    records: list[VectorRecord], batch: list[_Item], run: _Run, store: VectorStore
) -> set[str]:
    """Upsert ``records``, returning the ids stored; a record the store refuses is
    retried alone and failed alone."""
    if not records:
        return set()
    try:
        store.upsert(records)
    except Exception as exc:
        if _systemic(exc):
            raise
        if len(records) == 1:
            url = next(i.candidate.image_url for i in batch if i.id == records[0].id)
            run.fail(url, "store", exc)
            return set()
        return set().union(*(_upsert_isolated([r], batch, run, store) for r in records))
    return {record.id for record in records}
