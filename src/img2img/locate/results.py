"""What ``locate`` returns: the postings it verified, the claims that are not postings, the cost."""

from __future__ import annotations

from dataclasses import dataclass, field

from img2img.models import (
    Evidence,
    Failure,
    ImageCandidate,
    LookupReport,
    MatchKind,
    Metadata,
    Posting,
    PostingSequence,
    PostingSort,
    Stage,
    sort_postings,
)

__all__ = ["Claim", "EngineReport", "LocateReport", "Located"]


@dataclass(frozen=True, slots=True)
class Claim:
    """A page a reverse search claimed, that is not a posting of the picture asked about.

    ``kind`` is the search that claimed it (``exact`` or ``similar``);
    ``reason`` says in words why it is not a posting and ``stage`` where that
    was found: ``verify`` when its picture was compared with the query and is
    another picture, ``fetch``, ``decode``, ``embed`` or ``store`` when it
    could not be had or kept. ``evidence`` holds the verifier's
    figures when the pictures were compared (``None`` otherwise).
    ``metadata`` is what the source said of it (``lens_date``, ``price`` …).
    """

    image_url: str
    page_url: str | None
    domain: str | None
    title: str | None
    kind: MatchKind
    stage: Stage
    reason: str
    position: int | None = None
    evidence: Evidence | None = None
    metadata: Metadata = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        candidate: ImageCandidate,
        kind: MatchKind,
        stage: Stage,
        reason: str,
        evidence: Evidence | None = None,
    ) -> Claim:
        """The claim ``candidate`` made by the ``kind`` search, stopped at ``stage``."""
        return cls(
            image_url=candidate.image_url,
            page_url=candidate.page_url,
            domain=candidate.domain,
            title=candidate.title,
            kind=kind,
            stage=stage,
            reason=reason,
            position=candidate.position,
            evidence=evidence,
            metadata=dict(candidate.extra),
        )


@dataclass(frozen=True, slots=True)
class EngineReport:
    """What one engine did in a ``locate``: asked or not, and what became of its claims.

    ``claims`` are the claims it made that were kept (on the sites asked for);
    of those, ``downloaded`` were downloaded (a claim several engines made is
    downloaded once and counted for each), ``verified`` are postings,
    ``rejected`` are not (another picture, or a page that could not be had),
    ``new`` were stored for the first time. ``searches`` are the paid searches
    it was allowed (0 for a repeat its service answers from cache),
    ``quota_left`` what it last said of its searches left. ``error`` is why it
    failed, ``skipped`` why it was not asked (the budget, its quota, the kinds
    it offers); both ``None`` for an engine that answered.
    """

    engine: str
    claims: int = 0
    downloaded: int = 0
    verified: int = 0
    rejected: int = 0
    new: int = 0
    searches: int = 0
    quota_left: int | None = None
    elapsed_seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None

    @property
    def status(self) -> str:
        """``ok``, ``failed: ...`` or ``skipped: ...``, for tables."""
        if self.error is not None:
            return f"failed: {self.error}"
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        return "ok"


@dataclass(frozen=True, slots=True)
class LocateReport:
    """What one ``locate`` call cost, stage by stage, and what became of the claims.

    - ``lookup``: the reverse search: ``searches`` (each a paid search unless
      the service answered from its cache), ``uploads``, claims ``claimed``,
      ``kept`` (on the sites asked for, each page once) and its time;
    - ``candidates``: distinct images among the kept claims (two pages naming
      one image URL count once, as the first);
    - ``known``: candidates the store already held: checked against the
      picture cache, not downloaded again unless the cache lacked them;
    - ``downloads``: images downloaded, new candidates and uncached known ones;
    - ``verified``: postings found (``exact`` of them with the query's bytes);
    - ``different``: claims of the ``exact`` search that are another picture;
    - ``alike``: claims of the ``similar`` search that are another picture;
    - ``failures``: candidates that could not be downloaded, decoded or kept;
    - ``stored``: new records written (0 with ``index=False``);
    - ``elapsed_seconds``: the whole call, lookup included;
    - ``engines``: one :class:`EngineReport` per engine, in the order asked.

    ``candidates == verified + different + alike + failed``.
    """

    lookup: LookupReport
    candidates: int
    known: int
    downloads: int
    verified: int
    exact: int
    different: int
    alike: int
    stored: int
    failures: tuple[Failure, ...]
    elapsed_seconds: float
    engines: tuple[EngineReport, ...] = ()

    @property
    def failed_engines(self) -> tuple[EngineReport, ...]:
        """Engines that failed or were skipped."""
        return tuple(e for e in self.engines if not e.ok)

    @property
    def searches(self) -> int:
        """Searches sent to the reverse-search service."""
        return self.lookup.searches

    @property
    def uploads(self) -> int:
        """Local images handed to the service first."""
        return self.lookup.uploads

    @property
    def failed(self) -> int:
        return len(self.failures)

    def __str__(self) -> str:
        return (
            f"{self.lookup.cost}, {self.downloads} downloads: "
            f"{self.lookup.kept} claims, verified {self.verified}, different {self.different}, "
            f"alike {self.alike}, failed {self.failed}, stored {self.stored} "
            f"in {self.elapsed_seconds:.1f}s"
        )


@dataclass(frozen=True, slots=True)
class Located(PostingSequence):
    """Where a picture is on the web, as ``locate`` found and verified it.

    Iterating, indexing and ``len`` give the postings: pages whose image is
    the same bytes (``exact``) or a verified ``copy`` of the picture, exact
    ones first, then the strongest evidence. ``alike`` holds pages the
    ``similar`` search claimed that show another picture (empty unless asked
    for); ``rejected`` the claims that are not postings for any other reason
    (another picture, a page gone, not an image). ``report`` says what it cost.
    """

    postings: tuple[Posting, ...]
    alike: tuple[Claim, ...]
    rejected: tuple[Claim, ...]
    report: LocateReport

    def sorted_by(self, by: PostingSort) -> Located:
        """The same result, postings in another order: ``"oldest"`` answers "who posted
        it first?" by the earliest date any engine gave (see :data:`PostingSort`)."""
        return Located(
            tuple(sort_postings(self.postings, by)), self.alike, self.rejected, self.report
        )
