"""The values that travel between the client, the sources, embedders and stores.

All are frozen dataclasses: they are safe to share between threads and to use
as dictionary keys where hashable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from img2img.errors import ConfigurationError

__all__ = [
    "EmbeddingSpace",
    "Evidence",
    "Failure",
    "Filter",
    "FitModel",
    "ImageCandidate",
    "IndexInterrupted",
    "IndexProgress",
    "IndexReport",
    "LookupReport",
    "Match",
    "MatchKind",
    "Metadata",
    "MetadataValue",
    "PartFailure",
    "PictureGroup",
    "Posting",
    "PostingSequence",
    "PostingSort",
    "Postings",
    "ProgressCallback",
    "ReverseLookup",
    "Stage",
    "UploadedImage",
    "Relation",
    "Unverified",
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

#: Where in the indexing pipeline an item failed (``verify``: a gate's check, as ``locate`` runs).
Stage = Literal["discover", "fetch", "decode", "verify", "embed", "store"]


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
    #: What makes this the same image from run to run when ``image_url`` does not:
    #: a source whose URLs are signed anew on every read (Discord's CDN) sets it to
    #: the URL without its signature, so indexing again finds the stored record.
    #: The record id hashes it instead of ``image_url``; ``None`` uses ``image_url``.
    identity: str | None = None


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

    def __repr__(self) -> str:
        # The metadata (hashes, sizes, every source field) would run to hundreds of characters.
        where = self.page_url or self.image_url
        return f"Match(id={self.id!r}, score={self.score:.4f}, title={self.title!r}, url={where!r})"

    @classmethod
    def from_metadata(cls, id: str, score: float, metadata: Metadata) -> Match:
        """Build a match from a store hit, lifting the provenance fields out of metadata.

        A local file is its own page: with no ``page_url`` stored, a ``file://``
        image's URL stands for it.
        """
        image_url = _str_or_none(metadata.get("image_url"))
        page_url = _str_or_none(metadata.get("page_url"))
        if page_url is None and image_url is not None and image_url.startswith("file:"):
            page_url = image_url
        return cls(
            id=id,
            score=float(score),
            image_url=image_url,
            page_url=page_url,
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
    refused: int = 0


#: Called from the thread that runs ``index()``/``add()`` each time a count changes.
ProgressCallback = Callable[[IndexProgress], None]


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one ``index()`` or ``add()`` call did.

    ``discovered`` counts distinct candidates; each ends up in exactly one of
    ``indexed``, ``skipped`` (already in the store), ``refused`` (downloaded,
    then kept out of the store by a gate, as ``locate`` keeps out pictures
    that are not copies) or ``failures``. ``reused``
    counts the indexed images whose bytes (sha256) were already embedded, in
    this run or an earlier one: stored as their own record with their own
    provenance, with the known vector, at no model cost. ``part_failures`` lists the parts of the source (channels, subreddits,
    campaigns) that ``index()`` could not read at all, so their images were
    never discovered (see :class:`~img2img.protocols.SourceWithParts`).
    """

    discovered: int
    indexed: int
    skipped: int
    failures: tuple[Failure, ...]
    elapsed_seconds: float
    keyphrase: str | None = None
    reused: int = 0
    part_failures: tuple[PartFailure, ...] = ()
    refused: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def __str__(self) -> str:
        refused = f", refused {self.refused}" if self.refused else ""
        parts = f", {len(self.part_failures)} parts unread" if self.part_failures else ""
        return (
            f"discovered {self.discovered}, indexed {self.indexed}, skipped {self.skipped}"
            f"{refused}, failed {self.failed}{parts} in {self.elapsed_seconds:.1f}s"
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

    @property
    def cost(self) -> str:
        """``"1 search, 0 uploads"``: what the lookup spent, for people."""
        searches = f"{self.searches} search" + ("" if self.searches == 1 else "es")
        return f"{searches}, {self.uploads} upload" + ("" if self.uploads == 1 else "s")

    def __str__(self) -> str:
        return (
            f"{self.cost}: claimed {self.claimed}, kept {self.kept}, "
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


#: How a posting relates to the query: ``exact`` is the same bytes (equal sha256);
#: ``copy`` is the same picture, verified by local features and a geometric fit
#: (resized, re-encoded, cropped, rotated, recoloured, overlaid, bordered or mirrored);
#: ``warped`` is the same picture under a looser fit: stretched to another aspect
#: ratio (``affine``) or seen at an angle, as a photo of a screen or a mockup shows
#: it (``perspective``); its evidence's ``corners`` place the query in the posting.
#: ``contains``: the query contains the posting's picture, whole, as one part of a
#: composite (a collage's tile, a picture-in-picture); ``part``: the query is one
#: part of the posting (a tile of a stored collage); the evidence's ``region`` says
#: where (see :class:`Evidence`).
#: ``alike`` is another picture, near the query only by embedding (the leading
#: posting of a grouped search's group that is not the query's picture).
Relation = Literal["exact", "copy", "warped", "contains", "part", "alike"]
#: The geometric model a verification fitted, loosest last: ``similarity`` (rotation,
#: uniform scale, shift), ``affine`` (also stretch and shear), ``perspective`` (a homography).
FitModel = Literal["similarity", "affine", "perspective"]
#: Orders :meth:`Postings.sorted_by` knows: ``match`` (exact first, then the
#: strongest verification), ``newest`` / ``oldest`` (``first_seen``, else
#: ``indexed_at``), ``size`` (most pixels first), ``score`` (cosine, highest first).
PostingSort = Literal["match", "newest", "oldest", "size", "score"]


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a posting was called a copy: the outcome of local-feature verification.

    - ``inliers``: matched keypoints that agree with one geometric fit
      (rotation, uniform scale, shift; mirrored when ``mirrored``);
    - ``coverage``: share of the area the two frames have in common that the
      agreeing keypoints span (0..1): a copy agrees all over, two photos of one
      scene only where their viewpoints happen to line up;
    - ``residual``: median distance, in pixels of a 512-pixel frame, between a
      matched keypoint and where the fit puts it: a fraction of a pixel for copies;
    - ``scale``: how much larger the picture is in the posting than in the
      query; ``rotation``: degrees it is turned; ``mirrored``: flipped left-right;
    - ``hash_distance``: bits of 64 that differ between the perceptual hashes
      (dHash) of the query and the posting, when both are known;
    - ``model``: the fit that was accepted (or the last one tried, for a near
      miss), see :data:`FitModel`;
    - ``corners``: the query's four frame corners (top left, top right, bottom
      right, bottom left) in the posting's own pixels under that fit, ``None``
      when no fit was found: where, and how turned, the picture sits in the posting;
    - ``frame``: the posting's ``(width, height)`` in those pixels, so
      :meth:`corner_fractions` can place the corners on a thumbnail;
    - ``region``: for a composite, the box ``(left, top, right, bottom)`` where
      one picture sits in the other: in the query's pixels when the query
      ``contains`` the posting, in the posting's pixels when the query is
      ``part`` of it; ``None`` otherwise. A fit made with a region of the query
      has ``corners`` of that region, not of the whole query.
    """

    inliers: int
    coverage: float
    residual: float
    scale: float = 1.0
    rotation: float = 0.0
    mirrored: bool = False
    hash_distance: int | None = None
    model: FitModel = "similarity"
    corners: tuple[tuple[float, float], ...] | None = None
    frame: tuple[int, int] | None = None
    region: tuple[int, int, int, int] | None = None

    def corner_fractions(self) -> tuple[tuple[float, float], ...]:
        """``corners`` as fractions of the posting's width and height (0..1 inside it);
        empty when either is unknown."""
        if not self.corners or not self.frame or min(self.frame) <= 0:
            return ()
        width, height = self.frame
        return tuple((round(x / width, 4), round(y / height, 4)) for x, y in self.corners)


@dataclass(frozen=True, slots=True)
class Posting:
    """One place a picture is posted, and how it relates to the picture asked about.

    ``score`` is the cosine similarity of the embeddings. ``evidence`` is set for
    ``copy`` postings (and ``None`` for ``exact`` ones, whose bytes are equal).
    ``indexed_at`` and ``first_seen`` are Unix seconds; ``first_seen`` is set
    when the source said when it first saw the image. ``width`` and ``height``
    are the posted image's own.
    """

    id: str
    relation: Relation
    score: float
    image_url: str | None = None
    page_url: str | None = None
    domain: str | None = None
    title: str | None = None
    keyphrase: str | None = None
    indexed_at: int | None = None
    first_seen: int | None = None
    width: int | None = None
    height: int | None = None
    evidence: Evidence | None = None
    #: Every stored metadata field, the ones above included.
    metadata: Metadata = field(default_factory=dict)

    @classmethod
    def from_match(
        cls, match: Match, relation: Relation, evidence: Evidence | None = None
    ) -> Posting:
        """A posting for a store hit, with its provenance lifted out of the metadata.

        A ``copy`` whose ``evidence`` needed a looser fit than a similarity
        becomes ``warped``, so every caller reports what the fit found.
        """
        md = match.metadata
        if relation == "copy" and evidence is not None and evidence.model != "similarity":
            relation = "warped"
        return cls(
            id=match.id,
            relation=relation,
            score=match.score,
            image_url=match.image_url,
            page_url=match.page_url,
            domain=match.domain,
            title=match.title,
            keyphrase=match.keyphrase,
            indexed_at=_int_or_none(md.get("indexed_at")),
            first_seen=_int_or_none(md.get("first_seen")),
            width=_int_or_none(md.get("width")),
            height=_int_or_none(md.get("height")),
            evidence=evidence,
            metadata=md,
        )

    @property
    def region(self) -> tuple[int, int, int, int] | None:
        """Where the picture sits, for a ``contains`` or ``part`` posting (see
        :class:`Evidence`); ``None`` for others."""
        return self.evidence.region if self.evidence is not None else None

    @property
    def engines(self) -> tuple[str, ...]:
        """The reverse-search engines that claimed it (``engines``, else ``found_by``)."""
        named = self.metadata.get("engines")
        if isinstance(named, list):
            return tuple(str(e) for e in named)
        found_by = self.metadata.get("found_by")
        return (found_by,) if isinstance(found_by, str) else ()

    @property
    def seen_at(self) -> int | None:
        """``first_seen`` where a source said it, else ``indexed_at``."""
        return self.first_seen if self.first_seen is not None else self.indexed_at


def _match_key(posting: Posting) -> tuple[int, int, float]:
    evidence = posting.evidence
    inliers = evidence.inliers if evidence is not None else 0
    return (0 if posting.relation == "exact" else 1, -inliers, -posting.score)


def sort_postings(postings: Sequence[Posting], by: PostingSort = "match") -> list[Posting]:
    """``postings`` in the order ``by`` names (see :data:`PostingSort`); ties keep their order.

    Postings with no date sort last for ``newest`` and ``oldest``.
    """
    never = float("inf")
    keys: dict[str, Callable[[Posting], Any]] = {
        "match": _match_key,
        "newest": lambda p: -p.seen_at if p.seen_at is not None else never,
        "oldest": lambda p: p.seen_at if p.seen_at is not None else never,
        "size": lambda p: -((p.width or 0) * (p.height or 0)),
        "score": lambda p: -p.score,
    }
    if by not in keys:
        raise ValueError(f"cannot sort postings by {by!r}; use one of {sorted(keys)}")
    return sorted(postings, key=keys[by])


@dataclass(frozen=True, slots=True)
class Unverified:
    """A shortlisted candidate that could not be checked, and why (its image is
    gone, cannot be decoded, or has no URL). It may or may not be a copy."""

    id: str
    score: float
    image_url: str | None
    page_url: str | None
    reason: str


class PostingSequence(Sequence[Posting]):
    """A read-only sequence over the ``postings`` of a result."""

    __slots__ = ()
    postings: tuple[Posting, ...]

    @overload
    def __getitem__(self, index: int) -> Posting: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Posting]: ...

    def __getitem__(self, index: int | slice) -> Posting | Sequence[Posting]:
        return self.postings[index]

    def __len__(self) -> int:
        return len(self.postings)

    def __iter__(self) -> Iterator[Posting]:
        return iter(self.postings)


@dataclass(frozen=True, slots=True)
class Postings(PostingSequence):
    """What ``find_postings`` found: a sequence of :class:`Posting`, plus the
    candidates it could not check (``unverified``) and how many it looked at.

    Iterating, indexing and ``len`` give the postings in the order asked for.
    """

    postings: tuple[Posting, ...]
    unverified: tuple[Unverified, ...] = ()
    candidates: int = 0

    def sorted_by(self, by: PostingSort) -> Postings:
        """The same postings in another order (see :data:`PostingSort`)."""
        return Postings(tuple(sort_postings(self.postings, by)), self.unverified, self.candidates)


@dataclass(frozen=True, slots=True)
class PictureGroup:
    """Every posting of one picture, as grouped search and ``duplicates`` return them.

    ``postings[0]`` stands for the picture (the best match in a search, the
    largest image among duplicates); every other posting's ``relation`` and
    ``evidence`` compare it with ``postings[0]``. In a grouped search,
    ``postings[0]`` is compared with the query: ``exact`` only for the query's
    own bytes, ``copy`` (with evidence) for the query's picture, ``alike`` for
    another picture; ``query_relation`` says the same of the whole group. Among
    duplicates there is no query: ``postings[0]`` is ``exact`` with evidence
    ``None`` and ``query_relation`` is ``None``. ``score`` is the best cosine
    similarity to the query in a grouped search, and 1.0 among duplicates.
    """

    postings: tuple[Posting, ...]
    score: float = 1.0
    query_relation: Relation | None = None

    def __repr__(self) -> str:
        first = self.picture
        where = first.page_url or first.image_url
        return (
            f"PictureGroup({len(self.postings)} postings, score={self.score:.3f}, "
            f"query_relation={self.query_relation!r}, picture={where!r})"
        )

    @property
    def is_query_picture(self) -> bool:
        """Whether the group shows the query's picture (its bytes, or a verified copy, warped or not)."""
        return self.query_relation in ("exact", "copy", "warped")

    @property
    def picture(self) -> Posting:
        """The posting that stands for the picture."""
        return self.postings[0]

    def __len__(self) -> int:
        return len(self.postings)


class IndexInterrupted(KeyboardInterrupt):
    """``index()`` or ``add()`` was stopped by Ctrl-C (a ``KeyboardInterrupt``).

    A ``KeyboardInterrupt``, so it ends a program as Ctrl-C does. ``report``
    counts what the run did before it stopped; every record it counts as
    indexed is in the store, so the same call run again picks up from there.
    """

    def __init__(self, report: IndexReport) -> None:
        super().__init__(f"interrupted: {report}")
        self.report = report
