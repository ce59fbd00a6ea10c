"""An index job on Ray: the stages of ``client.index`` as a Ray Data pipeline.

::

    discover (driver) -> download (tasks, threads each) -> decode (tasks)
        -> embed (an actor pool, GPUs where there are) -> write (driver, in batches)

Discovery, the skip of stored ids and the write run on the driver, with the
pipeline's own code (:func:`~img2img.pipeline.reuse.new_candidates`,
:func:`~img2img.pipeline.write.write_batch`), so the records, their
provenance metadata, the failures and the :class:`~img2img.models.IndexReport`
are those of ``client.index`` over the same candidates. Ray is imported only
when a job runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from img2img.adding import AddItem, candidates_for, items_to_add
from img2img.arguments import check_whole
from img2img.errors import ConfigurationError, MissingDependencyError
from img2img.images import DEFAULT_MAX_PIXELS
from img2img.models import EmbeddingSpace, ImageCandidate, IndexReport
from img2img.pipeline.embed import Embedded
from img2img.pipeline.interrupts import Interrupts
from img2img.pipeline.items import Item
from img2img.pipeline.reuse import new_candidates
from img2img.pipeline.tally import Tally
from img2img.pipeline.write import write_batch
from img2img.protocols import Embedder, Fetcher, ImageSource, SourceWithParts, VectorStore
from img2img.scale.rows import COLUMN, Travelling, pack, unpack
from img2img.scale.stages import Decode, Download, Embed
from img2img.stores.space import SpaceOnFirstWrite, check_accepts

if TYPE_CHECKING:
    import ray.data

__all__ = ["RaySettings", "index_on_ray", "import_ray"]


def import_ray() -> Any:
    """The ``ray`` module, with Ray Data; a clear error naming the extra when it is missing."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(
            "indexing on Ray needs Ray Data: pip install img2img-search[ray]"
        ) from exc
    return ray


@dataclass(frozen=True, slots=True)
class RaySettings:
    """How the job spreads over the cluster.

    Args:
        batch_size: images per model call and per write to the store.
        embed_actors: model replicas (Ray actors) embedding at once.
        gpus_per_actor: GPUs each model replica takes (``0`` on CPUs; ``1``, or a
            fraction to share a GPU between replicas, where the cluster has them).
        download_threads: downloads in flight in each download task.
        download_batch: candidates per download task.
        max_pixels: images larger than this are refused, as by ``client.index``.
        reindex: embed candidates already stored too.
        download_cpus, decode_cpus, embed_cpus: the CPUs Ray reserves for each
            actor of a stage (downloads mostly wait on the network). One actor of
            each stage must fit the cluster at once, or the job waits forever.
    """

    batch_size: int = 32
    embed_actors: int = 1
    gpus_per_actor: float = 0.0
    download_threads: int = 16
    download_batch: int = 64
    max_pixels: int = DEFAULT_MAX_PIXELS
    reindex: bool = False
    download_cpus: float = 0.25
    decode_cpus: float = 0.75
    embed_cpus: float = 1.0

    def checked(self) -> RaySettings:
        for name in ("batch_size", "embed_actors", "download_threads", "download_batch"):
            check_whole(name, getattr(self, name))
        for name in ("gpus_per_actor", "download_cpus", "decode_cpus", "embed_cpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigurationError(f"{name} must be 0 or more, not {value!r}")
        return self


def _default_fetcher(connections: int) -> Fetcher:
    from img2img.net.fetch import HttpFetcher

    return HttpFetcher(max_connections=connections)


def index_on_ray(
    images: ImageSource | Iterable[AddItem],
    *,
    embedder: Callable[[], Embedder],
    store: VectorStore,
    keyphrase: str = "",
    limit: int = 100,
    fetcher: Callable[[], Fetcher] | None = None,
    settings: RaySettings | None = None,
) -> IndexReport:
    """Index ``images`` on the Ray cluster this process is connected to (or a local one).

    ``images`` is an :class:`~img2img.protocols.ImageSource`, asked for up to
    ``limit`` images for ``keyphrase`` as ``client.index`` asks it, or paths,
    folders, URLs and candidates as ``client.add`` takes them (``keyphrase``
    then only recorded). ``embedder`` and ``fetcher`` are made on each worker,
    so they are given as something to call: a class, or a ``functools.partial``
    of one (``fetcher`` defaults to an ``HttpFetcher``). ``store`` is written
    from this process, ``batch_size`` records at a time.

    Per-item problems become failures in the report; systemic ones (a missing
    model, a store that is down) end the job with their error.
    """
    settings = (settings or RaySettings()).checked()
    if not isinstance(keyphrase, str):
        raise ConfigurationError(f"keyphrase must be text, got {keyphrase!r}")
    ray = import_ray()
    model = embedder()
    space = EmbeddingSpace(model.model_id, model.dimension)
    check_accepts(store, space)
    recorded = keyphrase.strip() or None
    tally = Tally(recorded)
    writing = SpaceOnFirstWrite(store, space)
    todo = [
        Travelling(identity, candidate)
        for identity, candidate in new_candidates(
            _candidates(images, keyphrase, limit),
            writing,
            tally,
            reindex=settings.reindex,
            on_discover_error=lambda exc: tally.fail(recorded or "", "discover", exc),
        )
    ]
    if todo:
        fetch = fetcher or functools.partial(_default_fetcher, settings.download_threads)
        dataset = _pipeline(ray.data, todo, embedder, fetch, recorded, settings)
        _write(dataset, tally, writing, settings.batch_size)
    report = tally.report()
    if isinstance(images, SourceWithParts) and images.failures:
        report = replace(report, part_failures=tuple(images.failures))
    return report


def _candidates(
    images: ImageSource | Iterable[AddItem], keyphrase: str, limit: int
) -> Iterable[ImageCandidate]:
    if isinstance(images, ImageSource):
        return images.discover(keyphrase, limit=check_whole("limit", limit))
    return candidates_for(items_to_add(images))


def _pipeline(
    data: Any,
    todo: list[Travelling],
    embedder: Callable[[], Embedder],
    fetcher: Callable[[], Fetcher],
    keyphrase: str | None,
    settings: RaySettings,
) -> ray.data.Dataset:
    """The lazy dataset of every candidate through download, decode and embed (``data``
    is the ``ray.data`` module)."""
    step = settings.download_batch
    chunks = [pack(todo[start : start + step]) for start in range(0, len(todo), step)]
    # One block per chunk of candidates, so downloads spread over the workers.
    dataset = data.from_items(
        [{COLUMN: row} for chunk in chunks for row in chunk[COLUMN]],
        override_num_blocks=len(chunks),
    )
    embedded: ray.data.Dataset = (
        dataset.map_batches(
            Download,
            fn_constructor_args=(fetcher, settings.download_threads),
            batch_size=step,
            compute=data.ActorPoolStrategy(min_size=1, max_size=len(chunks)),
            num_cpus=settings.download_cpus,
        )
        .map_batches(
            Decode,
            fn_constructor_args=(embedder, keyphrase, settings.max_pixels),
            batch_size=settings.batch_size,
            compute=data.ActorPoolStrategy(min_size=1, max_size=len(chunks)),
            num_cpus=settings.decode_cpus,
        )
        .map_batches(
            Embed,
            fn_constructor_args=(embedder,),
            batch_size=settings.batch_size,
            compute=data.ActorPoolStrategy(size=settings.embed_actors),
            num_cpus=settings.embed_cpus,
            num_gpus=settings.gpus_per_actor,
        )
    )
    return embedded


def _write(dataset: ray.data.Dataset, tally: Tally, store: VectorStore, batch_size: int) -> None:
    """Each batch's outcomes counted, and its records written, as the pipeline writes them."""
    interrupts = Interrupts()
    with interrupts:
        for rows in _batches(dataset, batch_size):
            ready: list[Item] = []
            vectors = {}
            embedded_ids: set[str] = set()
            for row in rows:
                if row.item is not None:  # downloaded and decoded, as the pipeline counts
                    tally.fetched += 1
                if row.failure is not None:
                    tally.failures.append(row.failure)
                    continue
                assert row.item is not None
                assert row.vector is not None
                ready.append(row.item)
                vectors[row.item.sha256] = row.vector
                if row.embedded:
                    embedded_ids.add(row.id)
                    tally.embedded += 1
            write_batch(ready, Embedded(vectors, frozenset(embedded_ids)), tally, store, interrupts)


def _batches(dataset: ray.data.Dataset, batch_size: int) -> Iterator[list[Travelling]]:
    for batch in dataset.iter_batches(batch_size=batch_size, batch_format="numpy"):
        yield unpack(batch)
