"""Regions of stored composites as records of their own, and hits on them mapped to their picture.

Where a stored picture is split (a collage, a picture on a plain background or
pasted over a photo),
each region's vector is stored beside the picture's under the id
``<picture id>#region<n>``, with only :data:`REGION_OF` (the picture's id) and
:data:`REGION_BOX` (where it is, in the picture's pixels) as metadata: no
provenance, no hashes, so nothing that reads provenance, reuses vectors by
sha256 or syncs files takes it for a picture. A search that hits a region is
answered with the picture it belongs to (:func:`to_parents`); a region is never
a result of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from img2img.models import Match, Metadata, Vector, VectorRecord
from img2img.postings.regions import Box, box_text
from img2img.protocols import VectorStore

__all__ = [
    "REGION_BOX",
    "REGION_OF",
    "is_region",
    "parent_of",
    "region_records",
    "to_parents",
]

#: Metadata field of a region record naming the stored picture it is a region of.
REGION_OF = "region_of"
#: Metadata field of a region record: its box in the picture's pixels, ``"l,t,r,b"``.
REGION_BOX = "region"


def is_region(metadata: Metadata) -> bool:
    """Whether a record is a region of a stored picture, not a picture."""
    return isinstance(metadata.get(REGION_OF), str)


def parent_of(match: Match) -> str:
    """The id of the picture a hit shows: its own, or the one it is a region of."""
    parent = match.metadata.get(REGION_OF)
    return parent if isinstance(parent, str) else match.id


def region_records(parent: str, boxes: Sequence[Box], vectors: Vector) -> list[VectorRecord]:
    """A record for each region of the stored picture ``parent`` (vectors float32 ``(n, dim)``)."""
    return [
        VectorRecord(
            id=f"{parent}#region{index}",
            vector=vectors[index],
            metadata={REGION_OF: parent, REGION_BOX: box_text(box)},
        )
        for index, box in enumerate(boxes)
    ]


def to_parents(store: VectorStore, matches: Sequence[Match]) -> list[Match]:
    """``matches`` with every region hit replaced by the picture it is a region of,
    scored as its best hit, each picture once, best first. A region whose picture
    is gone is dropped."""
    wanted = sorted({parent_of(m) for m in matches if is_region(m.metadata)})
    if not wanted:
        return list(matches)
    records = store.fetch(wanted)
    best: dict[str, Match] = {}
    for match in matches:
        parent = parent_of(match)
        if parent != match.id:
            record = records.get(parent)
            if record is None:
                continue
            match = Match.from_metadata(parent, match.score, record.metadata)
        if parent not in best or match.score > best[parent].score:
            best[parent] = match
    return sorted(best.values(), key=lambda m: -m.score)
