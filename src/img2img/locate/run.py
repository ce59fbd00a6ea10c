"""Locating a picture on the web: ask the engines, merge their claims, verify, keep.

    answers  = ask_engines(query, engines, budget)    each engine at once; failures kept
    claims   = merge_claims(answers)                  one claim per image, every engine named
    checked  = check_claims(judge, claims)            download, judge, store the copies
    postings = verified claims, scored against the query's embedding

An engine that fails, is out of quota or out of budget leaves the others'
postings intact: it is named in the report with why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from img2img.errors import ConfigurationError
from img2img.inputs import check_whole
from img2img.loading import ImageInput
from img2img.locate.claims import (
    Checked,
    CheckParts,
    Claims,
    check_claims,
    engines_of,
    failures_in_order,
    others_of,
    postings_of,
)
from img2img.locate.engines import Budget, EngineAnswer, ask_engines
from img2img.locate.merge import merge_claims
from img2img.locate.results import EngineReport, Located, LocateReport
from img2img.models import LookupReport, MatchKind, ProgressCallback
from img2img.postings.judge import DEFAULT_THRESHOLDS, Judge, Picture, Thresholds
from img2img.postings.query import load_query
from img2img.protocols import ReverseImageSource

__all__ = ["LocateOptions", "LocateParts", "run_locate"]


@dataclass(frozen=True, slots=True)
class LocateOptions:
    """What to ask for; see :meth:`img2img.client.ImageSearchClient.locate`."""

    exact: bool = True
    similar: bool = False
    limit: int = 100
    sites: Sequence[str] = ()
    index: bool = True
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    max_searches: int | None = None

    def __post_init__(self) -> None:
        if not (self.exact or self.similar):
            raise ConfigurationError("ask for exact matches, similar ones, or both")
        check_whole("limit", self.limit)
        if self.max_searches is not None:
            check_whole("max_searches", self.max_searches, least=0)
        if isinstance(self.sites, str):
            raise ConfigurationError(f"sites takes a list of sites, got the text {self.sites!r}")

    @property
    def kinds(self) -> tuple[MatchKind, ...]:
        wanted: tuple[tuple[MatchKind, bool], ...] = (
            ("exact", self.exact),
            ("similar", self.similar),
        )
        return tuple(kind for kind, asked in wanted if asked)


@dataclass(frozen=True, slots=True)
class LocateParts:
    """What the client lends a lookup: the engines to ask, and what checking claims needs."""

    engines: Sequence[ReverseImageSource]
    check: CheckParts


def _lookup_total(answers: Sequence[EngineAnswer], elapsed: float) -> LookupReport:
    """The engines' lookups added up, as one lookup would report them."""
    reports = [a.lookup.report for a in answers if a.lookup is not None]
    return LookupReport(
        searches=sum(a.searches for a in answers),
        uploads=sum(r.uploads for r in reports),
        claimed=sum(r.claimed for r in reports),
        kept=sum(r.kept for r in reports),
        off_site=sum(r.off_site for r in reports),
        repeated=sum(r.repeated for r in reports),
        elapsed_seconds=elapsed,
    )


def _engine_reports(
    answers: Sequence[EngineAnswer], claims: Claims, checked: Checked
) -> tuple[EngineReport, ...]:
    tallies: dict[str, dict[str, int]] = {
        a.engine: dict.fromkeys(("claims", "downloaded", "verified", "rejected", "new"), 0)
        for a in answers
    }
    for id in claims:
        for engine in engines_of(claims, id):
            tally = tallies.get(engine)
            if tally is None:
                continue
            tally["claims"] += 1
            tally["downloaded"] += id in checked.downloaded
            tally["verified"] += id in checked.records
            tally["rejected"] += id not in checked.records and (
                id in checked.failures or id in checked.judgements
            )
            tally["new"] += id in checked.stored
    return tuple(
        EngineReport(
            engine=a.engine,
            searches=a.searches,
            quota_left=a.quota_left,
            elapsed_seconds=a.elapsed_seconds,
            error=a.error,
            error_type=a.error_type,
            skipped=a.skipped,
            **tallies[a.engine],
        )
        for a in answers
    )


def _raise_when_none_answered(answers: Sequence[EngineAnswer]) -> None:
    """When every engine asked failed, nothing can be located: raise the first failure
    (a bad key, a spent plan) as one engine alone would. Engines skipped for the
    budget or their quota are no failure: the report says so."""
    failed = [a.exception for a in answers if a.exception is not None]
    if failed and not any(a.ok for a in answers):
        raise failed[0]


def run_locate(
    image: ImageInput,
    parts: LocateParts,
    options: LocateOptions = LocateOptions(),
    *,
    progress: ProgressCallback | None = None,
    budget: Budget | None = None,
) -> Located:
    """Ask ``parts.engines`` where ``image`` is, verify every claim, keep the postings.

    See :meth:`img2img.client.ImageSearchClient.locate` for what comes back.
    ``budget`` caps the paid searches across calls that share it; by default
    ``options.max_searches`` caps this call's. Failures of one engine are in
    the report; when every engine asked failed, the first failure is raised
    (a bad key, a spent plan). A store that is down raises as the pipeline
    raises it.
    """
    started = time.perf_counter()
    check = parts.check
    query = load_query(image, check.fetcher, max_pixels=check.settings.max_pixels)
    shown = query.shown()
    budget = budget if budget is not None else Budget(options.max_searches)
    answers = ask_engines(
        shown.remote,
        parts.engines,
        kinds=options.kinds,
        limit=options.limit,
        sites=options.sites,
        budget=budget,
    )
    _raise_when_none_answered(answers)
    lookup = _lookup_total(answers, time.perf_counter() - started)
    claims = merge_claims(answers, shown.sha256)
    judge = Judge(Picture(query.image, shown.sha256), thresholds=options.thresholds)
    checked = check_claims(judge, claims, check, index=options.index, progress=progress)
    query_vector = check.embedder.embed_images([query.image])[0] if checked.records else None
    postings = postings_of(checked, claims, query_vector)
    others = others_of(claims, checked)
    report = LocateReport(
        lookup=lookup,
        candidates=len(claims),
        known=checked.known,
        downloads=checked.downloads,
        verified=len(postings),
        exact=sum(1 for p in postings if p.relation == "exact"),
        different=others.different,
        alike=len(others.alike),
        stored=len(checked.stored),
        failures=failures_in_order(claims, checked),
        elapsed_seconds=time.perf_counter() - started,
        engines=_engine_reports(answers, claims, checked),
    )
    return Located(postings, others.alike, others.rejected, report)
