"""The stages as Ray runs them: callable classes, one instance per Ray actor.

Each wraps the pipeline's own stage code (:mod:`img2img.pipeline`), so a
row's bytes, metadata, vector and failure are those ``client.index`` would
give it. A per-item failure is kept in the row; a systemic one (the model
missing, a store down) raises, and Ray ends the job with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from img2img.cores import available_cores
from img2img.loading import read_bytes
from img2img.models import Failure
from img2img.pipeline.embed import embed_batch
from img2img.pipeline.failures import ItemFailed, guarded, reason
from img2img.pipeline.handoff import Ready, Refused
from img2img.pipeline.items import Downloaded
from img2img.pipeline.prepare import Preparer
from img2img.pipeline.reuse import ContentIndex, signature_fields
from img2img.pipeline.tally import Tally
from img2img.protocols import Embedder, Fetcher
from img2img.scale.rows import Travelling, pack, unpack
from img2img.stores.memory import InMemoryStore

__all__ = ["Decode", "Download", "Embed"]


def _failed(row: Travelling, failed: ItemFailed) -> None:
    row.failure = Failure(
        url=row.candidate.image_url, stage=failed.stage, reason=reason(failed.error)
    )


class Download:
    """The download stage: ``threads`` downloads at once per actor, through a fetcher
    made on the actor (connections do not travel)."""

    def __init__(self, fetcher: Callable[[], Fetcher], threads: int) -> None:
        self._fetcher = fetcher()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="img2img-fetch")

    def _download(self, row: Travelling) -> None:
        url = row.candidate.image_url
        try:
            # Stat before reading, as the pipeline does: a file changed in between looks changed.
            row.signature = guarded("fetch", lambda: signature_fields(url))
            row.content = guarded("fetch", lambda: read_bytes(url, self._fetcher))
        except ItemFailed as failed:
            _failed(row, failed)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[bytes]]:
        rows = unpack(batch)
        list(self._pool.map(self._download, rows))
        return pack(rows)


class Decode:
    """The decode stage: bytes to an item ready for the model, by the pipeline's
    :class:`~img2img.pipeline.prepare.Preparer` (decode, provenance, prepare), a
    thread per core as in the pipeline's workshop (decoding releases the GIL)."""

    def __init__(self, embedder: Callable[[], Embedder], keyphrase: str | None, max_pixels: int):
        self._prepare = Preparer(embedder(), keyphrase=keyphrase, max_pixels=max_pixels)
        self._pool = ThreadPoolExecutor(available_cores(), thread_name_prefix="img2img-prepare")

    def _decode(self, row: Travelling) -> None:
        if not row.alive or row.content is None:
            return
        downloaded = Downloaded(row.id, row.candidate, row.content, row.signature)
        try:
            outcome = self._prepare(downloaded)
        except ItemFailed as failed:
            _failed(row, failed)
            return
        assert not isinstance(outcome, Refused), "no gate runs on Ray"
        assert isinstance(outcome, Ready)
        row.item = outcome.item
        row.content = None  # the metadata holds its sha256; the bytes need not travel on

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[bytes]]:
        rows = unpack(batch)
        list(self._pool.map(self._decode, rows))
        return pack(rows)


class Embed:
    """The embed stage, one model per actor (on a GPU where Ray gave it one).

    Equal bytes are embedded once per actor, as the pipeline does within a run;
    a batch the model refuses is retried an item at a time, so one bad image
    fails alone.
    """

    def __init__(self, embedder: Callable[[], Embedder]) -> None:
        self._embedder = embedder()
        # The actor has no store to consult: it remembers what it embedded itself.
        self._known = ContentIndex(InMemoryStore(), self._embedder.dimension, consult_store=False)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[bytes]]:
        rows = unpack(batch)
        ready = [row for row in rows if row.alive and row.item is not None]
        items = [row.item for row in ready if row.item is not None]
        tally = Tally(None)
        embedded = embed_batch(items, self._embedder, self._known, tally)
        failures = {failure.url: failure for failure in tally.failures}
        for row in ready:
            assert row.item is not None
            row.vector = embedded.vectors.get(row.item.sha256)
            row.embedded = row.item.id in embedded.embedded_ids and row.vector is not None
            if row.vector is None:
                row.failure = failures[row.candidate.image_url]
            row.item.payload = None  # the model is done with it
        return pack(rows)
