"""The write stage: upsert a batch's records whole, with its regions', a refused record
failing alone.

Ctrl-C waits for the write to end, so every record the report counts is in
the store; the picture keeper hears of a record only once it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from img2img.models import VectorRecord
from img2img.pipeline.embed import Embedded
from img2img.pipeline.failures import is_systemic
from img2img.pipeline.interrupts import Interrupts
from img2img.pipeline.items import Item, PictureKeeper
from img2img.pipeline.regions import region_records_of
from img2img.pipeline.tally import Tally
from img2img.protocols import VectorStore

__all__ = ["upsert_isolated", "write_batch"]


def write_batch(
    batch: Sequence[Item],
    embedded: Embedded,
    tally: Tally,
    store: VectorStore,
    interrupts: Interrupts,
    pictures: PictureKeeper | None = None,
) -> None:
    """Upsert a record for every item of ``batch`` with a vector, and the records of its
    regions (``embedded.regions``), and keep its picture."""
    vectors = embedded.vectors
    records = [
        VectorRecord(id=item.id, vector=vectors[item.sha256], metadata=item.metadata)
        for item in batch
        if item.sha256 in vectors
    ]
    with interrupts.held():
        stored = _upsert_with_regions(records, batch, embedded, tally, store)
        tally.indexed += len(stored)
        tally.reused += sum(
            1 for item in batch if item.id in stored and item.id not in embedded.embedded_ids
        )
    if pictures is not None:
        for item in batch:
            if item.id in stored and item.picture is not None:
                width, height = item.metadata["width"], item.metadata["height"]
                pictures.keep(item.id, item.picture, int(width), int(height))


def _upsert_with_regions(
    records: list[VectorRecord],
    batch: Sequence[Item],
    embedded: Embedded,
    tally: Tally,
    store: VectorStore,
) -> set[str]:
    """Upsert ``records`` and their regions' in one call when the store takes them all;
    else the images as :func:`upsert_isolated` does, then the regions of those stored
    (dropped if refused: they only help find their image). The ids of images stored."""
    if not embedded.regions:
        return upsert_isolated(records, batch, tally, store)
    ids = {record.id for record in records}
    regions = region_records_of(batch, embedded.regions, ids)
    try:
        store.upsert([*records, *regions])
    except Exception as exc:
        if is_systemic(exc):
            raise
    else:
        return ids
    stored = upsert_isolated(records, batch, tally, store)
    regions = region_records_of(batch, embedded.regions, stored)
    if regions:
        try:
            store.upsert(regions)
        except Exception as exc:
            if is_systemic(exc):
                raise
    return stored


def upsert_isolated(
    records: list[VectorRecord], batch: Sequence[Item], tally: Tally, store: VectorStore
) -> set[str]:
    """Upsert ``records``, returning the ids stored; a record the store refuses is
    retried alone and failed alone."""
    if not records:
        return set()
    try:
        store.upsert(records)
    except Exception as exc:
        if is_systemic(exc):
            raise
        if len(records) == 1:
            url = next(i.candidate.image_url for i in batch if i.id == records[0].id)
            tally.fail(url, "store", exc)
            return set()
        return set().union(*(upsert_isolated([r], batch, tally, store) for r in records))
    return {record.id for record in records}
