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

from img2img.errors import ConfigurationError

__all__ = [
    "EmbeddingSpace",
    "Failure",
    "Filter",
    "ImageCandidate",
    "IndexProgress",
    "IndexReport",
    "LookupReport",
    "Match",
    "MatchKind",
    "Metadata",
    "MetadataValue",
    "PartFailure",
    "ProgressCallback",
    "ReverseLookup",
    "Stage",
    "UploadedImage",
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


@dataclass(frozen=True)
class PartFailure:
    """One part of a source that could not be read, and why.

    ``part`` names it (``"channel 1234"``, ``"r/pics"``); ``status_code`` is
    the service's HTTP status (403 forbidden, 404 deleted), when there was one.
    """

    part: str
    reason: str
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """How far an ``index()`` or ``add()`` call has come, passed to its ``progress`` callback.

    Counts only grow. ``fetched`` counts images downloaded and decoded,
    ``embedded`` images turned into vectors, ``stored`` records the store
    acknowledged; ``skipped`` and ``failed`` are as in :class:`IndexReport`.
    ``done`` is true on the last call, once the run has ended.
    """

    discovered: int = 0
    fetched: int = 0
    embedded: int = 0
    stored: int = 0
    skipped: int = 0
    failed: int = 0
    done: bool = False


#: Called from the thread that runs ``index()``/``add()`` each time a count changes.
ProgressCallback = Callable[[IndexProgress], None]


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one ``index()`` or ``add()`` call did.

    ``discovered`` counts distinct candidates; each ends up in exactly one of
    ``indexed``, ``skipped`` (already in the store) or ``failures``.
    ``part_failures`` lists the parts of the source (channels, subreddits,
    campaigns) that ``index()`` could not read at all, so their images were
    never discovered (see :class:`~img2img.protocols.SourceWithParts`).
    """

    discovered: int
    indexed: int
    skipped: int
    failures: tuple[Failure, ...]
    elapsed_seconds: float
    keyphrase: str | None = None
    part_failures: tuple[PartFailure, ...] = ()

    @property
    def failed(self) -> int:
        return len(self.failures)

    def __str__(self) -> str:
        parts = f", {len(self.part_failures)} parts unread" if self.part_failures else ""
        return (
            f"discovered {self.discovered}, indexed {self.indexed}, skipped {self.skipped}, "
            f"failed {self.failed}{parts} in {self.elapsed_seconds:.1f}s"
        )


#: What a reverse image search looks for: pages showing the same picture, or alike ones.
MatchKind = Literal["exact", "similar"]


@dataclass(frozen=True, slots=True)
class UploadedImage:
    """A local image handed to a reverse-search service, ready to be looked up.

    Exactly one of ``url`` and ``upload_id`` is set: ``url`` when the image now
    lives at an ``http(s)`` address the service can fetch (an uploader that
    hosts images), ``upload_id`` when the service keeps it under an id of its
    own (SerpAPI's ``image_id``). ``expires_at`` (Unix seconds) is when the
    service forgets it, if known; ``size_bytes`` is what was sent.
    """

    url: str | None = None
    upload_id: str | None = None
    expires_at: float | None = None
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if (self.url is None) == (self.upload_id is None):
            raise ConfigurationError("UploadedImage takes exactly one of url and upload_id")


@dataclass(frozen=True, slots=True)
class LookupReport:
    """What one reverse lookup cost and what became of the claims.

    ``searches`` counts lookups sent to the service (one per kind asked for;
    each is a paid search unless the service answered from its cache);
    ``uploads`` counts local images handed over first. ``claimed`` counts the
    candidates the service returned; each ends up in exactly one of ``kept``,
    ``off_site`` (not on the sites asked for) or ``repeated`` (a page already
    claimed by an earlier kind).
    """

    searches: int
    uploads: int
    claimed: int
    kept: int
    off_site: int
    repeated: int
    elapsed_seconds: float

    def __str__(self) -> str:
        searches = f"{self.searches} search" + ("" if self.searches == 1 else "es")
        uploads = f"{self.uploads} upload" + ("" if self.uploads == 1 else "s")
        return (
            f"{searches}, {uploads}: claimed {self.claimed}, kept {self.kept}, "
            f"off-site {self.off_site}, repeated {self.repeated} in {self.elapsed_seconds:.1f}s"
        )


@dataclass(frozen=True, slots=True)
class ReverseLookup:
    """The pages a reverse-search service claims show an image. Claims, not yet verified.

    ``exact`` holds pages claimed to show the same picture, best first;
    ``similar`` pages showing alike pictures (empty unless asked for).
    """

    exact: tuple[ImageCandidate, ...]
    similar: tuple[ImageCandidate, ...]
    report: LookupReport
