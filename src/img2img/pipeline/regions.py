"""The regions stage: a stored composite's regions, cut on a workshop thread, embedded and
stored beside it.

Where an image is split (:func:`~img2img.postings.regions.split_regions`: a
grid of pictures, a picture on a plain background), each region is prepared
with the image and embedded after it, and stored as a record of its own
pointing at the image (:mod:`~img2img.postings.region_records`); the image's
own record lists its regions. Most images are not split and cost only the
look for lines of one colour (a few milliseconds). A region that fails to
embed or store leaves the image stored as it is: its regions only help find it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.models import VectorRecord
from img2img.pipeline.embed import embed_rows
from img2img.pipeline.failures import is_systemic
from img2img.pipeline.items import Item
from img2img.postings.composites import REGIONS_FIELD
from img2img.postings.region_records import region_records
from img2img.postings.regions import Box, box_text, crop_regions, split_regions
from img2img.protocols import Embedder, VectorStore

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["cut_regions", "store_regions"]


def cut_regions(
    image: Image.Image, embedder: Embedder, preparing: bool
) -> list[tuple[Box, Any, bool]]:
    """Each region of ``image`` where it is split, with the model's input for it
    (prepared when ``preparing``) and whether that input is prepared."""
    boxes = split_regions(image)
    out: list[tuple[Box, Any, bool]] = []
    for box, crop in zip(boxes, crop_regions(image, boxes), strict=True):
        payload: Any = crop
        if preparing:
            try:
                payload = embedder.prepare(crop)  # type: ignore[attr-defined]
            except Exception as exc:
                if is_systemic(exc):
                    raise
        out.append((box, payload, payload is not crop))
    return out


def regions_metadata(regions: Sequence[tuple[Box, Any, bool]]) -> dict[str, list[str]]:
    """What the image's own record says of its regions (nothing when it has none)."""
    return {REGIONS_FIELD: [box_text(box) for box, _, _ in regions]} if regions else {}


def store_regions(
    batch: Sequence[Item], stored: set[str], embedder: Embedder, store: VectorStore
) -> int:
    """Embed and store the regions of every stored item of ``batch``; how many were stored."""
    owners = [item for item in batch if item.regions and item.id in stored]
    if not owners:
        return 0
    rows = [
        Item(f"{item.id}#{n}", item.candidate, "", {}, payload, prepared)
        for item in owners
        for n, (_, payload, prepared) in enumerate(item.regions)
    ]
    try:
        vectors = np.asarray(embed_rows(embedder, rows), dtype=np.float32)
        records: list[VectorRecord] = []
        start = 0
        for item in owners:
            count = len(item.regions)
            boxes = [box for box, _, _ in item.regions]
            records += region_records(item.id, boxes, vectors[start : start + count])
            start += count
        store.upsert(records)
    except Exception as exc:
        if is_systemic(exc):
            raise
        return 0
    return len(records)
