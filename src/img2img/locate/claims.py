"""Checking claims: download what the store lacks, judge every claim, keep the copies.

    new      -> run_index(..., gate=ClaimChecker)     download, decode, judge on the download
                                                      threads; only copies are embedded and stored
    known    -> picture cache -> Judge                claims the store already holds: no download

Both kinds of claim are judged by one :class:`~img2img.postings.judge.Judge`.
Nothing that did not verify is written: the checker is the pipeline's gate,
so a claim is compared with the query after it is decoded and before it is
embedded. A record the store already held is never changed or deleted,
whatever its judgement. With ``index=False`` the verified claims go to a
scratch store that is dropped when the call returns. ``locate`` and the
watch list's checks both come here with claims from engines and sources.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from img2img.errors import FetchError, ImageError
from img2img.loading import is_http_url
from img2img.locate.checks import ClaimChecker
from img2img.locate.results import Claim
from img2img.models import (
    Failure,
    ImageCandidate,
    IndexReport,
    Match,
    MatchKind,
    Posting,
    ProgressCallback,
    VectorRecord,
    sort_postings,
)
from img2img.pipeline import IndexSettings, run_index
from img2img.postings.judge import Judge, Judgement, Picture, one_blas_thread
from img2img.postings.pictures import CandidatePictures
from img2img.protocols import Embedder, Fetcher, VectorStore
from img2img.provenance import image_id

if TYPE_CHECKING:
    from img2img.postings.cache import PictureCache

__all__ = ["CheckParts", "Checked", "Claims", "Others", "check_claims", "others_of", "postings_of"]

#: Threads checking claims the store already holds (as ``find_postings`` does).
KNOWN_WORKERS = 4

#: Claims by record id: the candidate, tagged with its provenance, and the kind of search.
Claims = dict[str, tuple[ImageCandidate, MatchKind]]


@dataclass(frozen=True, slots=True)
class CheckParts:
    """What checking claims needs of the client.

    ``store`` receives verified claims (the caller records its embedding space
    on first write); ``pictures`` is the client's picture cache, ``keep_pictures``
    whether thumbnails of stored claims go into it.
    """

    fetcher: Fetcher
    embedder: Embedder
    store: VectorStore
    pictures: PictureCache
    settings: IndexSettings
    keep_pictures: bool = True


class _ClaimReader:
    """Downloads claimed images through the fetcher (``http(s)`` only), noting which."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._lock = threading.Lock()
        self.downloaded: set[str] = set()
        self.count = 0

    def __call__(self, url: str) -> bytes:
        # A remote service names these URLs: never let one reach a local file.
        if not is_http_url(url):
            raise FetchError(f"claimed images are downloaded over http(s) only, not {url!r}")
        with self._lock:
            self.count += 1
            self.downloaded.add(image_id(url))
        return self._fetcher.fetch(url)


@dataclass
class Checked:
    """What became of the claims: a judgement or a failure for each, the records of
    the verified ones (stored now, or stored before), and what was downloaded."""

    judgements: dict[str, Judgement] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    records: dict[str, VectorRecord] = field(default_factory=dict)
    known: int = 0
    downloads: int = 0
    downloaded: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)


def _check_known(
    known: dict[str, VectorRecord],
    claims: Claims,
    judge: Judge,
    pictures: CandidatePictures,
    checked: Checked,
) -> None:
    """Judge claims the store already holds from the picture cache (downloading what it
    lacks); the records themselves are left as they are."""

    def check(id: str) -> Judgement | Failure:
        url = claims[id][0].image_url
        try:
            return judge.judge(Picture.stored(id, known[id].metadata, pictures, url))
        except (FetchError, ImageError) as exc:
            return Failure(url, "decode" if isinstance(exc, ImageError) else "fetch", str(exc))

    ids = list(known)
    with ThreadPoolExecutor(KNOWN_WORKERS, thread_name_prefix="img2img-locate") as pool:
        for id, outcome in zip(ids, pool.map(check, ids), strict=True):
            if isinstance(outcome, Failure):
                checked.failures[id] = outcome
            else:
                checked.judgements[id] = outcome
                if outcome.relation is not None:
                    checked.records[id] = known[id]


def _check_new(
    new: list[ImageCandidate],
    checker: ClaimChecker,
    read: _ClaimReader,
    parts: CheckParts,
    index: bool,
    progress: ProgressCallback | None,
    checked: Checked,
) -> None:
    """Download, verify and store the claims the store lacks, through the pipeline with
    the checker as its gate; with ``index=False`` into a scratch store."""
    from img2img.stores.memory import InMemoryStore

    sink = parts.store if index else InMemoryStore()
    report: IndexReport = run_index(
        new,
        keyphrase=None,
        read=read,
        embedder=parts.embedder,
        store=sink,
        settings=replace(parts.settings, reindex=False),
        progress=progress,
        pictures=parts.pictures if index and parts.keep_pictures else None,
        gate=checker,
    )
    for failure in report.failures:
        checked.failures[image_id(failure.url)] = failure
    admitted: list[str] = []
    for candidate in new:
        id = image_id(candidate.image_url)
        judgement = checker.judgement(id)
        if judgement is None or id in checked.failures:
            continue
        checked.judgements[id] = judgement
        if judgement.same:
            admitted.append(id)
    stored = sink.fetch(admitted) if admitted else {}
    for id in admitted:
        if id in stored:
            checked.records[id] = stored[id]
            if index:
                checked.stored.add(id)
        else:  # verified, yet the store does not hold it: say so rather than lose it quietly
            url = next(c.image_url for c in new if image_id(c.image_url) == id)
            checked.failures[id] = Failure(url, "store", "verified, but the store did not keep it")
    if index and parts.keep_pictures:
        for id in stored:
            features = checked.judgements[id].features
            if features is not None:
                parts.pictures.put_features(id, features, None)


def check_claims(
    judge: Judge,
    claims: Claims,
    parts: CheckParts,
    *,
    index: bool = True,
    progress: ProgressCallback | None = None,
) -> Checked:
    """Judge every claim against ``judge``'s query; store the new copies when ``index``."""
    checked = Checked()
    if not claims:
        return checked
    read = _ClaimReader(parts.fetcher)
    known = parts.store.fetch(list(claims))
    checked.known = len(known)
    new = [candidate for id, (candidate, _) in claims.items() if id not in known]
    max_pixels = parts.settings.max_pixels
    with one_blas_thread():
        _check_new(new, ClaimChecker(judge), read, parts, index, progress, checked)
        pictures = CandidatePictures(parts.pictures, read, max_pixels=max_pixels)
        _check_known(known, claims, judge, pictures, checked)
    checked.downloads = read.count
    checked.downloaded = set(read.downloaded)
    return checked


def postings_of(
    checked: Checked, claims: Claims, query_vector: npt.NDArray[np.float32] | None
) -> tuple[Posting, ...]:
    """The verified claims as postings, scored against the query's embedding, best first.

    What this lookup learnt of a record it already held (the engines that
    claimed it, the earliest date) shows on the posting; the record is not changed.
    """
    found = []
    for id, record in checked.records.items():
        score = float(np.dot(query_vector, record.vector)) if query_vector is not None else 0.0
        metadata = dict(record.metadata)
        claimed = claims[id][0].extra if id in claims else {}
        for name in ("engines", "first_seen"):
            if name in claimed and id not in checked.stored:
                metadata[name] = claimed[name]
        found.append(checked.judgements[id].posting(Match.from_metadata(id, score, metadata)))
    return tuple(sort_postings(found, "match"))


@dataclass(frozen=True, slots=True)
class Others:
    """The claims that are not postings, in the engines' order, and how many show
    another picture (rather than failing)."""

    alike: tuple[Claim, ...]
    rejected: tuple[Claim, ...]
    different: int


def others_of(claims: Claims, checked: Checked) -> Others:
    alike: list[Claim] = []
    rejected: list[Claim] = []
    different = 0
    for id, (candidate, kind) in claims.items():
        failure = checked.failures.get(id)
        judgement = checked.judgements.get(id)
        if failure is not None:
            rejected.append(Claim.of(candidate, kind, failure.stage, failure.reason))
        elif judgement is not None and not judgement.same:
            claim = Claim.of(candidate, kind, "verify", judgement.reason, judgement.evidence)
            if kind == "similar":
                alike.append(claim)
            else:
                rejected.append(claim)
                different += 1
    return Others(tuple(alike), tuple(rejected), different)


def failures_in_order(claims: Claims, checked: Checked) -> tuple[Failure, ...]:
    return tuple(checked.failures[id] for id in claims if id in checked.failures)


def engines_of(claims: Claims, id: str) -> Sequence[str]:
    """The engines that claimed record ``id``."""
    engines = claims[id][0].extra.get("engines", ())
    return [e for e in engines if isinstance(e, str)] if isinstance(engines, list) else []
