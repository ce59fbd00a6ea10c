"""Locating a picture on the web: reverse lookup, download, verify, keep.

    claims   = reverse_lookup(query, source)          pages a service says show the picture
    new      -> run_index(..., gate=ClaimChecker)     download, decode, verify on the download
                                                      threads; only copies are embedded and stored
    known    -> picture cache -> ClaimChecker         claims the store already holds: no download
    postings = verified claims, scored against the query's embedding

Nothing that did not verify is written: the checker is the pipeline's gate, so
a claim is compared with the query after it is decoded and before it is
embedded. A record the store already held is never changed or deleted, whatever
its verdict. With ``index=False`` the verified claims go to a scratch store
that is dropped when the call returns.
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from img2img.arguments import check_whole
from img2img.errors import ConfigurationError, FetchError, ImageError
from img2img.loading import ImageInput, is_http_url, load_input, local_image_bytes
from img2img.locate.checks import ClaimChecker, Verdict
from img2img.locate.results import Claim, Located, LocateReport
from img2img.models import (
    Failure,
    ImageCandidate,
    IndexReport,
    Match,
    MatchKind,
    MetadataValue,
    Posting,
    ProgressCallback,
    ReverseLookup,
    VectorRecord,
    sort_postings,
)
from img2img.pipeline import IndexSettings, run_index
from img2img.postings.pictures import CandidatePictures
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds, one_blas_thread
from img2img.protocols import Embedder, Fetcher, ReverseImageSource, VectorStore
from img2img.provenance import image_id
from img2img.reverse import check_asked, reverse_lookup

if TYPE_CHECKING:
    from PIL import Image

    from img2img.postings.cache import PictureCache

__all__ = ["LocateOptions", "LocateParts", "run_locate"]

#: Threads checking claims the store already holds (as ``find_postings`` does).
KNOWN_WORKERS = 4


@dataclass(frozen=True, slots=True)
class LocateOptions:
    """What to ask for; see :meth:`img2img.client.ImageSearchClient.locate`."""

    exact: bool = True
    similar: bool = False
    limit: int = 100
    sites: Sequence[str] = ()
    index: bool = True
    thresholds: Thresholds = DEFAULT_THRESHOLDS

    def __post_init__(self) -> None:
        check_asked(self.exact, self.similar)
        check_whole("limit", self.limit)
        if isinstance(self.sites, str):
            raise ConfigurationError(f"sites takes a list of sites, got the text {self.sites!r}")


@dataclass(frozen=True, slots=True)
class LocateParts:
    """What the client lends a lookup.

    ``store`` receives verified claims (the caller records its embedding space
    on first write); ``pictures`` is the client's picture cache, ``keep_pictures``
    whether thumbnails of stored claims go into it.
    """

    source: ReverseImageSource
    fetcher: Fetcher
    embedder: Embedder
    store: VectorStore
    pictures: PictureCache
    settings: IndexSettings
    keep_pictures: bool = True


@dataclass(frozen=True, slots=True)
class _Query:
    image: Image.Image
    sha256: str
    remote: str | bytes  # what the service is shown: an http(s) URL, or bytes to upload


def _load_query(image: ImageInput, fetcher: Fetcher, max_pixels: int) -> _Query:
    """Read the query once: its pixels, the sha256 of its bytes, and what the service sees.

    A PIL image or an array has no bytes of its own: the JPEG encoded for the
    upload stands in for them.
    """
    loaded = load_input(image, fetcher, max_pixels=max_pixels)
    data = loaded.data if loaded.data is not None else local_image_bytes(loaded.image)
    remote: str | bytes = loaded.url if loaded.url and is_http_url(loaded.url) else data
    return _Query(loaded.image, hashlib.sha256(data).hexdigest(), remote)


def _first_seen(extra: dict[str, MetadataValue]) -> int | None:
    """The Unix time of the date the service gave for the page (``lens_date_iso``), if any."""
    value = extra.get("lens_date_iso")
    if not isinstance(value, str):
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return None
    return calendar.timegm(day.timetuple())


def _tagged(
    candidate: ImageCandidate, kind: MatchKind, sha256: str, source: ReverseImageSource
) -> ImageCandidate:
    """``candidate`` with the provenance of this lookup, stored with it if it verifies."""
    extra: dict[str, MetadataValue] = dict(candidate.extra)
    extra.setdefault("found_by", type(source).__name__)
    extra["claimed_as"] = kind
    extra["query_sha256"] = sha256
    seen = _first_seen(extra)
    if seen is not None:
        extra.setdefault("first_seen", seen)
    return replace(candidate, extra=extra)


def _claims(
    lookup: ReverseLookup, sha256: str, source: ReverseImageSource
) -> dict[str, tuple[ImageCandidate, MatchKind]]:
    """The claims by record id, exact ones first; a second page naming the same image drops out."""
    claims: dict[str, tuple[ImageCandidate, MatchKind]] = {}
    kinds: tuple[tuple[MatchKind, Iterable[ImageCandidate]], ...] = (
        ("exact", lookup.exact),
        ("similar", lookup.similar),
    )
    for kind, found in kinds:
        for candidate in found:
            tagged = _tagged(candidate, kind, sha256, source)
            claims.setdefault(image_id(candidate.image_url), (tagged, kind))
    return claims


class _CountingReader:
    """Downloads claimed images through the fetcher (``http(s)`` only), counting them."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, url: str) -> bytes:
        # A remote service names these URLs: never let one reach a local file.
        if not is_http_url(url):
            raise FetchError(f"claimed images are downloaded over http(s) only, not {url!r}")
        with self._lock:
            self.count += 1
        return self._fetcher.fetch(url)


@dataclass
class _Checked:
    """What became of the claims: a verdict or a failure for each, and the records
    of the verified ones (stored now, or stored before)."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    records: dict[str, VectorRecord] = field(default_factory=dict)
    known: int = 0
    downloads: int = 0
    stored: int = 0


def _check_known(
    known: dict[str, VectorRecord],
    claims: dict[str, tuple[ImageCandidate, MatchKind]],
    checker: ClaimChecker,
    pictures: CandidatePictures,
    checked: _Checked,
) -> None:
    """Judge claims the store already holds from the picture cache (downloading what it
    lacks); the records themselves are left as they are."""

    def check(id: str) -> Verdict | Failure:
        metadata = known[id].metadata
        if metadata.get("sha256") == checker.sha256:
            return Verdict("exact")
        url = claims[id][0].image_url
        try:
            features = pictures.features(id, url)
        except (FetchError, ImageError) as exc:
            return Failure(url, "decode" if isinstance(exc, ImageError) else "fetch", str(exc))
        dhash = metadata.get("dhash")
        return checker.judge(features, None, dhash if isinstance(dhash, str) else None)

    ids = list(known)
    with ThreadPoolExecutor(KNOWN_WORKERS, thread_name_prefix="img2img-locate") as pool:
        for id, outcome in zip(ids, pool.map(check, ids), strict=True):
            if isinstance(outcome, Failure):
                checked.failures[id] = outcome
            else:
                checked.verdicts[id] = outcome
                if outcome.relation is not None:
                    checked.records[id] = known[id]


def _check_new(
    new: list[ImageCandidate],
    checker: ClaimChecker,
    read: _CountingReader,
    parts: LocateParts,
    options: LocateOptions,
    progress: ProgressCallback | None,
    checked: _Checked,
) -> None:
    """Download, verify and store the claims the store lacks, through the pipeline with
    the checker as its gate; with ``index=False`` into a scratch store."""
    from img2img.stores.memory import InMemoryStore

    keep = options.index
    sink = parts.store if keep else InMemoryStore()
    report: IndexReport = run_index(
        new,
        keyphrase=None,
        read=read,
        embedder=parts.embedder,
        store=sink,
        settings=replace(parts.settings, reindex=False),
        progress=progress,
        pictures=parts.pictures if keep and parts.keep_pictures else None,
        gate=checker,
    )
    checked.stored = report.indexed if keep else 0
    for failure in report.failures:
        checked.failures[image_id(failure.url)] = failure
    admitted: list[str] = []
    for candidate in new:
        id = image_id(candidate.image_url)
        verdict = checker.verdict(id)
        if verdict is None or id in checked.failures:
            continue
        checked.verdicts[id] = verdict
        if verdict.relation is not None:
            admitted.append(id)
    stored = sink.fetch(admitted) if admitted else {}
    for id in admitted:
        if id in stored:
            checked.records[id] = stored[id]
        else:  # verified, yet the store does not hold it: say so rather than lose it quietly
            url = next(c.image_url for c in new if image_id(c.image_url) == id)
            checked.failures[id] = Failure(url, "store", "verified, but the store did not keep it")
    if keep and parts.keep_pictures:
        for id in stored:
            features = checked.verdicts[id].features
            if features is not None:
                parts.pictures.put_features(id, features, None)


def _postings(
    checked: _Checked, query_vector: npt.NDArray[np.float32] | None
) -> tuple[Posting, ...]:
    found = []
    for id, record in checked.records.items():
        verdict = checked.verdicts[id]
        score = float(np.dot(query_vector, record.vector)) if query_vector is not None else 0.0
        match = Match.from_metadata(id, score, record.metadata)
        found.append(Posting.from_match(match, verdict.relation or "copy", verdict.evidence))
    return tuple(sort_postings(found, "match"))


@dataclass(frozen=True, slots=True)
class _Others:
    """The claims that are not postings, in the service's order, and how many show
    another picture (rather than failing)."""

    alike: tuple[Claim, ...]
    rejected: tuple[Claim, ...]
    different: int


def _others(claims: dict[str, tuple[ImageCandidate, MatchKind]], checked: _Checked) -> _Others:
    alike: list[Claim] = []
    rejected: list[Claim] = []
    different = 0
    for id, (candidate, kind) in claims.items():
        failure = checked.failures.get(id)
        verdict = checked.verdicts.get(id)
        if failure is not None:
            rejected.append(Claim.of(candidate, kind, failure.stage, failure.reason))
        elif verdict is not None and verdict.relation is None:
            claim = Claim.of(candidate, kind, "verify", verdict.reason, verdict.evidence)
            if kind == "similar":
                alike.append(claim)
            else:
                rejected.append(claim)
                different += 1
    return _Others(tuple(alike), tuple(rejected), different)


def run_locate(
    image: ImageInput,
    parts: LocateParts,
    options: LocateOptions = LocateOptions(),
    *,
    progress: ProgressCallback | None = None,
) -> Located:
    """Ask ``parts.source`` where ``image`` is, verify every claim, keep the postings.

    See :meth:`img2img.client.ImageSearchClient.locate` for what comes back.
    Systemic failures (a bad key, a spent plan, a refused upload, a store that
    is down) raise before anything is stored from this lookup, or, for the
    store, as the pipeline raises them; per-claim ones are reported.
    ``progress`` follows the downloads of the claims the store lacks.
    """
    started = time.perf_counter()
    max_pixels = parts.settings.max_pixels
    query = _load_query(image, parts.fetcher, max_pixels)
    lookup = reverse_lookup(
        query.remote,
        parts.source,
        exact=options.exact,
        similar=options.similar,
        limit=options.limit,
        sites=options.sites,
    )
    claims = _claims(lookup, query.sha256, parts.source)
    checked = _Checked()
    if claims:
        checker = ClaimChecker(query.image, query.sha256, thresholds=options.thresholds)
        read = _CountingReader(parts.fetcher)
        known = parts.store.fetch(list(claims))
        checked.known = len(known)
        new = [candidate for id, (candidate, _) in claims.items() if id not in known]
        with one_blas_thread():
            _check_new(new, checker, read, parts, options, progress, checked)
            pictures = CandidatePictures(parts.pictures, read, max_pixels=max_pixels)
            _check_known(known, claims, checker, pictures, checked)
        checked.downloads = read.count
    query_vector = parts.embedder.embed_images([query.image])[0] if checked.records else None
    postings = _postings(checked, query_vector)
    others = _others(claims, checked)
    failures = tuple(checked.failures[id] for id in claims if id in checked.failures)
    report = LocateReport(
        lookup=lookup.report,
        candidates=len(claims),
        known=checked.known,
        downloads=checked.downloads,
        verified=len(postings),
        exact=sum(1 for p in postings if p.relation == "exact"),
        different=others.different,
        alike=len(others.alike),
        stored=checked.stored,
        failures=failures,
        elapsed_seconds=time.perf_counter() - started,
    )
    return Located(postings, others.alike, others.rejected, report)
