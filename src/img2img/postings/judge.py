"""Is this the same picture? The one place that decides.

Every caller that asks (``find_postings``, grouped search, ``duplicates``,
``locate``) prepares one :class:`Judge` per query and hands it candidates::

    judge = Judge(Picture(query_image, sha256=digest))     the query, prepared once
    judgement = judge.judge(Picture.stored(id, metadata, pictures))
    if judgement.same:
        posting = judgement.posting(match)

The order is fixed here: equal sha256 is ``exact`` without looking at pixels;
otherwise the candidate's local features are compared with the query's by the
verifier (:mod:`img2img.postings.verify`: keypoints and a geometric fit) and
the fit decides ``copy`` or not, unless the two frames overlap only in part
(:mod:`img2img.postings.overlap`: two cuts of one photo sharing a strip); the
perceptual-hash distance goes into the evidence. Only this module calls the verifier (``tests/test_architecture.py``
holds it to that), so a new kind of fit or a new relation (a warped copy, a
picture that is part of a composite, with its region) is added here: the
verifier answers with a :class:`~img2img.postings.verify.Verification`,
:func:`relation_of` turns it into a relation, :class:`Judgement` carries it,
and :meth:`Judgement.posting` puts it on the posting every caller returns.

A judge owns no threads. It is thread-safe: callers run :meth:`Judge.judge`
on a pool of their own, inside
:func:`~img2img.postings.verify.one_blas_thread` (verifying multiplies small
matrices, for which BLAS threads cost more than they give).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeAlias

from img2img.errors import FetchError, ImageError
from img2img.hashes import difference_hash, hamming_distance
from img2img.models import Evidence, Match, Metadata, Posting, Relation
from img2img.postings.composites import QueryPixels, Side, composed, stored_regions
from img2img.postings.features import LocalFeatures, extract_features
from img2img.postings.overlap import overlap_reason
from img2img.postings.region_features import describe_region
from img2img.postings.regions import Box, split_regions
from img2img.postings.verify import (
    DEFAULT_THRESHOLDS,
    QueryFeatures,
    Thresholds,
    Verification,
    one_blas_thread,
    verify_features,
)

if TYPE_CHECKING:
    from PIL import Image

    from img2img.postings.pictures import CandidatePictures

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Judge",
    "Judgement",
    "Picture",
    "Pixels",
    "Thresholds",
    "hash_distance",
    "one_blas_thread",
    "relation_of",
]

#: How a picture's pixels are had: decoded (RGB), as features computed before, or
#: on demand (from the picture cache, downloading if need be; raising
#: :class:`~img2img.errors.FetchError` or :class:`~img2img.errors.ImageError`).
Pixels: TypeAlias = "Image.Image | LocalFeatures | Callable[[], LocalFeatures]"


@dataclass(frozen=True, slots=True, eq=False)
class Picture:
    """One side of a comparison: what names its bytes exactly, and its pixels.

    ``pixels`` is a decoded RGB image, its :class:`LocalFeatures`, or a
    function returning them when first needed (so a picture with the same
    bytes as the query is never downloaded); ``None`` compares bytes only.
    ``sha256`` is the hex digest of its bytes, ``dhash`` its perceptual hash
    (computed from a decoded image when not given). ``regions`` are the boxes a
    stored picture was split into when indexed (its pictures, if a composite).
    """

    pixels: Pixels | None = None
    sha256: str | None = None
    dhash: str | None = None
    regions: tuple[Box, ...] = ()

    @classmethod
    def stored(
        cls,
        id: str,
        metadata: Metadata,
        pictures: CandidatePictures,
        image_url: str | None = None,
    ) -> Picture:
        """A stored record: its hashes from ``metadata``, its features from ``pictures``
        (the cache, else downloaded from ``image_url`` or the stored ``image_url``)."""
        url = image_url if image_url is not None else metadata.get("image_url")
        sha256, dhash = metadata.get("sha256"), metadata.get("dhash")
        return cls(
            lambda: pictures.features(id, url if isinstance(url, str) else None),
            sha256 if isinstance(sha256, str) else None,
            dhash if isinstance(dhash, str) else None,
            tuple(stored_regions(metadata)),
        )

    @classmethod
    def of_match(cls, match: Match, pictures: CandidatePictures) -> Picture:
        """A store hit, as :meth:`stored`."""
        return cls.stored(match.id, match.metadata, pictures, match.image_url)


@dataclass(frozen=True, slots=True, eq=False)
class Judgement:
    """A candidate compared with the query.

    ``relation`` is ``exact`` (same bytes), ``copy`` or ``warped`` (the fit
    verified), ``contains`` or ``part`` (verified, one picture composed into the
    other: the evidence's ``region`` says where) or ``None`` (another picture:
    ``reason`` says why). ``evidence`` holds the
    fit's figures whenever pixels were compared, for a near miss too.
    ``features`` are the candidate's, when the judge had them, for a picture
    cache to keep.
    """

    relation: Relation | None
    evidence: Evidence | None = None
    reason: str = ""
    features: LocalFeatures | None = None

    @property
    def same(self) -> bool:
        """Whether the candidate shows the query's picture (or a part of it, or it in part)."""
        return self.relation is not None

    @property
    def whole(self) -> bool:
        """Whether the candidate is the query's picture as a whole: the same, and not
        a composite's part or the composite (duplicates and groups join only these)."""
        return self.relation is not None and self.relation not in ("contains", "part")

    def posting(self, match: Match) -> Posting:
        """The posting ``match`` is, by this judgement; only for a candidate that is the same."""
        if self.relation is None:
            raise ValueError(f"{match.id} is not the same picture: {self.reason}")
        return Posting.from_match(match, self.relation, self.evidence)


def relation_of(verification: Verification) -> Relation | None:
    """What a verifier's answer makes the candidate: the one place fits become relations."""
    return verification.relation if verification.same else None


def hash_distance(a: str | None, b: str | None) -> int | None:
    """Bits that differ between two perceptual hashes; ``None`` when either is missing or unreadable."""
    if a is None or b is None:
        return None
    try:
        return hamming_distance(a, b)
    except ValueError:
        return None


def _features(pixels: Pixels) -> LocalFeatures:
    from PIL import Image

    if isinstance(pixels, LocalFeatures):
        return pixels
    if isinstance(pixels, Image.Image):
        return extract_features(pixels)
    return pixels()


def _dhash(picture: Picture) -> str | None:
    """``picture``'s perceptual hash: given, or computed from decoded pixels."""
    from PIL import Image

    if picture.dhash is None and isinstance(picture.pixels, Image.Image):
        return difference_hash(picture.pixels)
    return picture.dhash


@dataclass(frozen=True, slots=True, eq=False)
class _Prepared:
    """The query as the verifier needs it: its features (as seen and mirrored) and
    perceptual hash, or why its pixels cannot be compared."""

    features: QueryFeatures | None
    dhash: str | None
    missing: str = ""
    #: The decoded query and its grey pixels, when it was given decoded: to cut its
    #: regions and to look for seams around a picture it contains.
    image: Image.Image | None = None
    grey: QueryPixels | None = None
    #: Where the decoded query is split (a grid of pictures), in its pixels as given.
    cells: tuple[Box, ...] = ()


def _prepare(query: Picture) -> _Prepared:
    """Only pixels to be had on demand may be missing; a decoded query that cannot
    be described is an error, as it would be for any candidate."""
    pixels = query.pixels
    if pixels is None:
        return _Prepared(None, query.dhash, "the query's pixels were not given")
    if isinstance(pixels, LocalFeatures) or not callable(pixels):
        image = None if isinstance(pixels, LocalFeatures) else pixels
        features = QueryFeatures.of(_features(pixels))
        return _Prepared(
            features,
            _dhash(query),
            image=image,
            grey=QueryPixels.of(image) if image is not None else None,
            # A stored query (duplicates, groups) brings the regions found when it was indexed.
            cells=tuple(split_regions(image)) if image is not None else query.regions,
        )
    try:
        return _Prepared(QueryFeatures.of(pixels()), query.dhash, cells=query.regions)
    except (FetchError, ImageError) as exc:
        return _Prepared(None, query.dhash, f"the query's pixels cannot be had: {exc}")


class Judge:
    """Compares candidates with one query, prepared once; thread-safe.

    Args:
        query: the picture asked about. Its features are computed on the first
            candidate that needs them (never, if every candidate has its
            bytes); if its pixels cannot be had, candidates are compared by
            bytes only.
        thresholds: when a fit means "the same picture".
    """

    def __init__(self, query: Picture, *, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.sha256 = query.sha256
        self.thresholds = thresholds
        self._query = query
        self._lock = threading.Lock()
        self._prepared: _Prepared | None = None
        self._regions: dict[Box, QueryFeatures] = {}
        self._describing: dict[Box, threading.Lock] = {}

    def _prepare(self) -> _Prepared:
        """The query's features and hash, computed on first need, once, whichever
        thread needs them first (the others wait for them)."""
        with self._lock:
            if self._prepared is None:
                self._prepared = _prepare(self._query)
            return self._prepared

    def _region_features(self, image: Image.Image, box: Box) -> QueryFeatures:
        """Features of one region of the query, computed once per region: a thread
        asking for a region another is describing waits for it instead of doing it too."""
        with self._lock:
            cached = self._regions.get(box)
            if cached is not None:
                return cached
            lock = self._describing.setdefault(box, threading.Lock())
        with lock:
            with self._lock:
                cached = self._regions.get(box)
            if cached is None:
                cached = QueryFeatures.of(describe_region(image, box))
                with self._lock:
                    self._regions[box] = cached
        return cached

    def judge(self, candidate: Picture, *, regions: Sequence[Box] = ()) -> Judgement:
        """Compare ``candidate`` with the query: ``exact``, ``copy``, ``warped``,
        ``contains``, ``part`` or not the same.

        ``regions`` are boxes of the query (its pixels) whose own embedding found
        the candidate: when the whole query does not verify, each is verified in
        turn (a collage's small tile has few keypoints of the whole query's).

        Raises :class:`~img2img.errors.FetchError` or
        :class:`~img2img.errors.ImageError` when the candidate's pixels are
        needed and cannot be had: what that means (unverified, a failed claim,
        no link) is the caller's to say.
        """
        if self.sha256 is not None and candidate.sha256 == self.sha256:
            return Judgement("exact")
        if candidate.pixels is None:
            return Judgement(None, reason="the bytes differ and the pixels were not compared")
        query = self._prepare()
        if query.features is None:
            return Judgement(None, reason=f"the bytes differ and {query.missing}")
        features = _features(candidate.pixels)
        direct = query.features.direct
        size = _own_size(direct)  # the query's pixels, as given
        side = Side(direct.size, 1 / direct.shrink)
        verification = verify_features(query.features, features, thresholds=self.thresholds)
        dhash = hash_distance(query.dhash, _dhash(candidate))
        evidence = replace(verification.evidence, hash_distance=dhash)
        relation, reason = relation_of(verification), verification.reason
        if relation is not None and (partial := overlap_reason(evidence)):
            relation, reason = None, partial  # two cuts sharing a strip: two pictures
        found = None
        if relation is not None:
            found = composed(evidence, side, size, query.grey, candidate.regions, query.cells)
        elif query.image is not None:
            # A region's fit counts only as a picture the query contains: a tile of one
            # photo fits a nearby view of its scene more easily than the whole does.
            given = size[0] / query.image.width  # a decoded query may have been shrunk
            for box in regions:
                cut = self._region_features(query.image, box)
                tried = verify_features(cut, features, thresholds=self.thresholds)
                if not tried.same:
                    continue
                side = Side(cut.direct.size, given / cut.direct.shrink, (box[0], box[1]))
                tried_evidence = replace(tried.evidence, hash_distance=dhash)
                found = composed(
                    tried_evidence, side, size, query.grey, candidate.regions, query.cells
                )
                if found is not None and found.relation == "contains":
                    reason, evidence = tried.reason, tried_evidence
                    break
                found = None
        if found is not None:
            relation = found.relation
            evidence = replace(evidence, region=found.region)
        return Judgement(relation, evidence, reason, features)


def _own_size(features: LocalFeatures) -> tuple[int, int]:
    """The picture's ``(width, height)`` as given, from its features."""
    return features.source_size or features.size
