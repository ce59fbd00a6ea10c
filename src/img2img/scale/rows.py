"""One candidate as it travels between Ray's workers, and how it is packed for the trip.

Each row of the Ray dataset holds one pickled :class:`Travelling`: Ray's own
column types cannot hold a PIL image, an ``ImageCandidate`` or a missing
vector, and a pickle carries them all unchanged. A row that failed at a stage
keeps its failure and passes the later stages untouched, so every candidate
comes back to the driver exactly once.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from img2img.models import Failure, ImageCandidate, Vector
from img2img.pipeline.items import Item

__all__ = ["COLUMN", "Travelling", "pack", "unpack"]

#: The one column of the dataset.
COLUMN = "row"


@dataclass(slots=True)
class Travelling:
    """One candidate and what the stages made of it so far.

    ``content`` and ``signature`` come from the download, ``item`` from the
    decode (its payload is dropped once embedded), ``vector`` from the model;
    ``embedded`` tells a vector the model made from one reused for equal bytes.
    """

    id: str
    candidate: ImageCandidate
    content: bytes | None = None
    signature: dict[str, Any] = field(default_factory=dict)
    item: Item | None = None
    vector: Vector | None = None
    embedded: bool = False
    failure: Failure | None = None

    @property
    def alive(self) -> bool:
        return self.failure is None


def pack(rows: Sequence[Travelling]) -> dict[str, list[bytes]]:
    """A batch for Ray: one column of pickles."""
    return {COLUMN: [pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL) for row in rows]}


def unpack(batch: Mapping[str, Any]) -> list[Travelling]:
    """The rows of a batch Ray hands over (any of its batch formats' column of bytes)."""
    return [pickle.loads(bytes(data)) for data in batch[COLUMN]]
