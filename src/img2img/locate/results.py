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
    Stage,
)

__all__ = ["Claim", "LocateReport", "Located"]


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
    - ``elapsed_seconds``: the whole call, lookup included.

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
