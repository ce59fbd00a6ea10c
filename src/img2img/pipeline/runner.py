"""The runner: candidates through the stages, batches to the model, on the calling thread.

::

    candidates -> download (``workers`` threads) -> prepare (a thread per core)
               -> hand-off queue -> embed (this thread, in batches) -> write (this thread)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from img2img.models import ImageCandidate, IndexInterrupted, IndexReport, ProgressCallback
from img2img.pipeline.download import Downloads
from img2img.pipeline.embed import embed_batch
from img2img.pipeline.handoff import Failed, HandOff, Ready, Refused, Stopped
from img2img.pipeline.interrupts import Interrupts
from img2img.pipeline.items import Gate, IndexSettings, Item, PictureKeeper
from img2img.pipeline.prepare import Preparer, Workshop
from img2img.pipeline.reuse import ContentIndex, new_candidates
from img2img.pipeline.tally import Tally
from img2img.pipeline.write import write_batch
from img2img.protocols import Embedder, VectorStore

__all__ = ["run_index"]

_DEFAULT_SETTINGS = IndexSettings()


def run_index(
    candidates: Iterable[ImageCandidate],
    *,
    keyphrase: str | None,
    read: Callable[[str], bytes],
    embedder: Embedder,
    store: VectorStore,
    settings: IndexSettings = _DEFAULT_SETTINGS,
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
    tally = Tally(keyphrase, progress)
    interrupts = Interrupts()
    known = ContentIndex(
        store,
        embedder.dimension,
        consult_store=not settings.reindex and store.count() > 0,
    )
    handoff = HandOff(settings.window)
    preparer = Preparer(
        embedder,
        keyphrase=keyphrase,
        max_pixels=settings.max_pixels,
        pictures=pictures,
        gate=gate,
        regions=settings.regions,
    )
    workshop = Workshop(preparer, handoff, backlog=settings.workers)
    downloads = Downloads(read, settings.workers, workshop.submit, handoff)
    finished = False
    try:
        with interrupts:
            todo = new_candidates(
                candidates,
                store,
                tally,
                reindex=settings.reindex,
                on_discover_error=lambda exc: tally.fail(tally.keyphrase or "", "discover", exc),
            )
            for batch in _ready_batches(todo, downloads, handoff, tally, settings.batch_size):
                embedded = embed_batch(batch, embedder, known, tally)
                write_batch(batch, embedded, tally, store, interrupts, pictures)
                tally.notify()
        finished = True
    except KeyboardInterrupt as exc:
        downloads.shutdown(wait=False)
        workshop.shutdown(wait=False)
        raise IndexInterrupted(tally.report()) from exc
    finally:
        # Downloads still running after an error are not waited for; they end
        # on their own deadline, and their results are dropped.
        downloads.shutdown(wait=finished)
        workshop.shutdown(wait=finished)
    tally.notify(done=True)
    return tally.report()


def _ready_batches(
    todo: Iterator[tuple[str, ImageCandidate]],
    downloads: Downloads,
    handoff: HandOff,
    tally: Tally,
    batch_size: int,
) -> Iterator[list[Item]]:
    """Keep the hand-off's window full of items in flight; yield full batches of
    ready items as they come, and the rest at the end."""
    batch: list[Item] = []
    exhausted = False
    while True:
        while not exhausted and handoff.has_room:
            started = next(todo, None)
            if started is None:
                exhausted = True
            else:
                handoff.start()
                downloads.submit(*started)
        if not handoff.in_flight:
            break
        for outcome in handoff.collect():
            if isinstance(outcome, Ready):
                batch.append(outcome.item)
                tally.fetched += 1
            elif isinstance(outcome, Refused):
                tally.refused += 1
            elif isinstance(outcome, Failed):
                tally.fail(outcome.candidate.image_url, outcome.stage, outcome.error)
            else:
                assert isinstance(outcome, Stopped)
                raise outcome.error
        tally.notify()
        while len(batch) >= batch_size:
            yield batch[:batch_size]
            batch = batch[batch_size:]
    if batch:
        yield batch
