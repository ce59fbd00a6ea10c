"""A stored composite's regions: cut on a workshop thread, embedded and stored with the
batch of their image.

Where an image is split (:func:`~img2img.postings.regions.split_regions`: a
grid of pictures, a picture on a plain background, a picture pasted over a
photo), each region is prepared with the image on its workshop thread,
embedded in the same model call as the batch's images (one call of full
batches, not a second small one), and stored in the same upsert, as a record
of its own pointing at the image (:mod:`~img2img.postings.region_records`);
the image's own record lists its regions. Most images are not split and cost
only the look for lines of one colour and for a pasted picture's four edges (a
few milliseconds). A region that fails to embed or store leaves the image
stored as it is: its regions only help find it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.models import Vector, VectorRecord
from img2img.pipeline.failures import is_systemic
from img2img.pipeline.items import Item
from img2img.postings.composites import REGIONS_FIELD
from img2img.postings.region_records import region_records
from img2img.postings.regions import Box, box_text, crop_regions, split_regions
from img2img.protocols import Embedder

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "cut_regions",
    "region_records_of",
    "region_rows",
    "regions_by_owner",
    "regions_metadata",
]


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


def region_rows(batch: Sequence[Item]) -> list[Item]:
    """A row for the model per region of every item of ``batch``, in order."""
    return [
        Item(f"{item.id}#{n}", item.candidate, "", {}, payload, prepared)
        for item in batch
        for n, (_, payload, prepared) in enumerate(item.regions)
    ]


def regions_by_owner(batch: Sequence[Item], vectors: Vector) -> dict[str, Vector]:
    """The rows of :func:`region_rows` (``vectors``, in its order) by the id of their image."""
    out: dict[str, Vector] = {}
    start = 0
    for item in batch:
        if item.regions:
            out[item.id] = vectors[start : start + len(item.regions)]
            start += len(item.regions)
    return out


def region_records_of(
    batch: Sequence[Item], vectors: Mapping[str, Vector], owners: Collection[str]
) -> list[VectorRecord]:
    """The records of the regions of every item of ``batch`` in ``owners`` with vectors."""
    records: list[VectorRecord] = []
    for item in batch:
        if item.id in owners and item.id in vectors:
            boxes = [box for box, _, _ in item.regions]
            records += region_records(item.id, boxes, np.asarray(vectors[item.id], np.float32))
    return records
