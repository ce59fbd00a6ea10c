"""The values that travel between the client, the sources, embedders and stores.

All are frozen dataclasses: they are safe to share between threads and to use
as dictionary keys where hashable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "EmbeddingSpace",
    "Failure",
    "Filter",
    "ImageCandidate",
    "IndexInterrupted",
    "IndexProgress",
    "IndexReport",
    "Match",
    "Metadata",
    "MetadataValue",
    "ProgressCallback",
    "Stage",
    "Vector",
    "VectorRecord",
]

#: A value a store can hold and filter on: Pinecone's rules (no nulls).
MetadataValue = str | int | float | bool | list[str]
Metadata = Mapping[str, MetadataValue]
#: A Pinecone-style metadata filter, e.g. ``{"domain": {"$in": ["a.com"]}}``.
Filter = Mapping[str, Any]
#: float32 array: shape ``(dim,)`` for one vector, ``(n, dim)`` for a batch.
Vector = npt.NDArray[np.float32]

#: Where in the indexing pipeline an item failed.
Stage = Literal["discover", "fetch", "decode", "embed", "store"]


@dataclass(frozen=True, slots=True)
class EmbeddingSpace:
    """Which model made a vector and how long it is.

    A store remembers the space of the first vectors written to it; vectors of
    another space are meaningless beside them, so the client refuses to mix.
    """

    model_id: str
    dimension: int

    def __str__(self) -> str:
        return f"{self.model_id} ({self.dimension}-d)"


@dataclass(frozen=True, slots=True)
class ImageCandidate:
    """An image found by a source, not yet downloaded.

    ``image_url`` is what gets fetched (``http(s)://`` or ``file://``);
    ``page_url`` is the page the image is posted on, the answer to "where is it".
    """

    image_url: str
    page_url: str | None = None
    title: str | None = None
    domain: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    position: int | None = None
    #: Extra source-specific provenance, stored with the vector.
    extra: Mapping[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """One stored vector: a stable id, a float32 ``(dim,)`` unit vector, provenance."""

    id: str
    vector: Vector
    metadata: Metadata = field(default_factory=dict)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Match:
    """One search hit. ``score`` is cosine similarity: 1.0 is identical, higher is closer."""

    id: str
    score: float
    image_url: str | None = None
    page_url: str | None = None
    title: str | None = None
    domain: str | None = None
    keyphrase: str | None = None
    #: Every stored metadata field, the ones above included.
    metadata: Metadata = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, id: str, score: float, metadata: Metadata) -> Match:
        """Build a match from a store hit, lifting the provenance fields out of metadata."""
        return cls(
            id=id,
            score=float(score),
            image_url=_str_or_none(metadata.get("image_url")),
            page_url=_str_or_none(metadata.get("page_url")),
            title=_str_or_none(metadata.get("title")),
            domain=_str_or_none(metadata.get("domain")),
            keyphrase=_str_or_none(metadata.get("keyphrase")),
            metadata=dict(metadata),
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """One item that could not be indexed, and why."""

    url: str
    stage: Stage
    reason: str


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """How far an ``index()`` or ``add()`` call has come, passed to its ``progress`` callback.

    Counts only grow. ``fetched`` counts images downloaded and decoded,
    ``embedded`` images the model turned into vectors, ``stored`` records the
    store acknowledged; ``skipped``, ``failed`` and ``reused`` are as in
    :class:`IndexReport`. ``done`` is true on the last call, once the run has ended.
    """

    discovered: int = 0
    fetched: int = 0
    embedded: int = 0
    stored: int = 0
    skipped: int = 0
    failed: int = 0
    done: bool = False
    reused: int = 0


#: Called from the thread that runs ``index()``/``add()`` each time a count changes.
ProgressCallback = Callable[[IndexProgress], None]


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one ``index()`` or ``add()`` call did.

    ``discovered`` counts distinct candidates; each ends up in exactly one of
    ``indexed``, ``skipped`` (already in the store) or ``failures``. ``reused``
    counts the indexed images whose bytes (sha256) were already embedded, in
    this run or an earlier one: stored as their own record with their own
    provenance, with the known vector, at no model cost.
    """

    discovered: int
    indexed: int
    skipped: int
    failures: tuple[Failure, ...]
    elapsed_seconds: float
    keyphrase: str | None = None
    reused: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def __str__(self) -> str:
        return (
            f"discovered {self.discovered}, indexed {self.indexed}, skipped {self.skipped}, "
            f"failed {self.failed} in {self.elapsed_seconds:.1f}s"
        )


class IndexInterrupted(KeyboardInterrupt):
    """``index()`` or ``add()`` was stopped by Ctrl-C (a ``KeyboardInterrupt``).

    A ``KeyboardInterrupt``, so it ends a program as Ctrl-C does. ``report``
    counts what the run did before it stopped; every record it counts as
    indexed is in the store, so the same call run again picks up from there.
    """

    def __init__(self, report: IndexReport) -> None:
        super().__init__(f"interrupted: {report}")
        self.report = report
