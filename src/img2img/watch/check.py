"""One check of the watch list: what is new, what is still there, what is gone.

For each watched picture, in the order they were added::

    engines  -> ask_engines(picture, engines, budget)    paid searches, within the budget
    sources  -> discover(keyphrase)                      Discord, Reddit … read as they are
    claims   -> merged; those judged at an earlier check are left out
    checked  -> check_claims(judge, claims)              download, judge, keep the copies
    known    -> each posting not found again is fetched: 404/410 or another picture is gone
    book     <- the picture's outcome, in one transaction

A check that is stopped (Ctrl-C, a kill) leaves the pictures it finished
written and the others as they were; the next check does the rest and
returns the postings the stopped one found and could not return.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from img2img.errors import FetchError, ImageError, Img2ImgError
from img2img.images import decode_image
from img2img.locate.claims import Checked, CheckParts, Claims, check_claims
from img2img.locate.engines import Budget, EngineAnswer, ask_engines, engine_name
from img2img.locate.merge import merge_claims
from img2img.models import LookupReport, ReverseLookup
from img2img.postings.judge import DEFAULT_THRESHOLDS, Judge, Picture, Thresholds, one_blas_thread
from img2img.protocols import ImageSource, ReverseImageSource
from img2img.provenance import domain_of
from img2img.watch.book import WatchBook, WatchedPicture, WatchedPosting

__all__ = ["PictureCheck", "WatchCheck", "run_check"]

log = logging.getLogger(__name__)

#: Threads looking again at postings found before.
RECHECK_WORKERS = 4
#: Statuses that mean the page's image is gone, not merely unreachable now.
GONE_STATUSES = frozenset({404, 410})
#: Candidates read from each source per picture and check.
SOURCE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class PictureCheck:
    """One watched picture's check.

    ``new`` are postings verified for the first time (or found by a check
    that was stopped before it could return them), ``still_there`` postings
    found before and seen again, ``gone`` postings whose image is gone (404,
    410) or is now another picture, ``unchecked`` postings that could not be
    looked at this time (a time-out): they keep their last state.
    ``problems`` says, per engine or source, what failed or was skipped.
    """

    picture: WatchedPicture
    new: tuple[WatchedPosting, ...] = ()
    still_there: tuple[WatchedPosting, ...] = ()
    gone: tuple[WatchedPosting, ...] = ()
    unchecked: tuple[WatchedPosting, ...] = ()
    problems: tuple[str, ...] = ()
    searches: int = 0


@dataclass(frozen=True, slots=True)
class WatchCheck:
    """A check of the whole watch list: each picture's outcome, and the searches spent."""

    pictures: tuple[PictureCheck, ...] = ()
    searches: int = 0
    max_searches: int | None = None
    skipped: tuple[str, ...] = field(default=())

    @property
    def new(self) -> tuple[WatchedPosting, ...]:
        return tuple(p for check in self.pictures for p in check.new)

    @property
    def gone(self) -> tuple[WatchedPosting, ...]:
        return tuple(p for check in self.pictures for p in check.gone)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{c.picture.label}: {p}" for c in self.pictures for p in c.problems)

    def __str__(self) -> str:
        return (
            f"{len(self.pictures)} pictures checked: {len(self.new)} new, {len(self.gone)} gone, "
            f"{self.searches} searches"
        )


def _source_answer(name: str, source: ImageSource, keyphrase: str) -> EngineAnswer:
    """A source's recent posts as claims, in the shape the engines' answers have."""
    started = time.perf_counter()
    try:
        found = tuple(source.discover(keyphrase, limit=SOURCE_LIMIT))
    except Img2ImgError as exc:
        return EngineAnswer(name, error=str(exc), error_type=type(exc).__name__, exception=exc)
    tagged = tuple(
        replace(c, domain=c.domain or domain_of(c.page_url), extra={**c.extra, "found_by": name})
        for c in found
    )
    elapsed = time.perf_counter() - started
    report = LookupReport(0, 0, len(tagged), len(tagged), 0, 0, elapsed)
    return EngineAnswer(name, lookup=ReverseLookup(exact=tagged, similar=(), report=report))


def _problems(answers: Sequence[EngineAnswer]) -> tuple[str, ...]:
    said = []
    for answer in answers:
        if answer.error is not None:
            said.append(f"{answer.engine} failed: {answer.error}")
        elif answer.skipped is not None:
            said.append(f"{answer.engine} skipped: {answer.skipped}")
    return tuple(said)


def _found(claims: Claims, checked: Checked, now: int) -> list[WatchedPosting]:
    found = []
    for id in checked.records:
        judgement = checked.judgements[id]
        candidate = claims[id][0]
        engines = candidate.extra.get("engines")
        seen = candidate.extra.get("first_seen")
        found.append(
            WatchedPosting(
                posting_id=id,
                image_url=candidate.image_url,
                page_url=candidate.page_url,
                domain=candidate.domain,
                title=candidate.title,
                relation=str(judgement.relation),
                found_by=tuple(e for e in engines if isinstance(e, str))
                if isinstance(engines, list)
                else (),
                first_seen=seen if isinstance(seen, int) else now,
                last_seen=now,
                present=True,
            )
        )
    return found


def _look_again(
    postings: Sequence[WatchedPosting], judge: Judge, parts: CheckParts
) -> tuple[list[WatchedPosting], list[WatchedPosting], list[WatchedPosting]]:
    """Fetch each posting's image again: still the picture, gone, or not reachable now."""

    def look(posting: WatchedPosting) -> str:
        if posting.image_url is None:
            return "unchecked"
        try:
            data = parts.fetcher.fetch(posting.image_url)
        except FetchError as exc:
            return "gone" if exc.status_code in GONE_STATUSES else "unchecked"
        try:
            image = decode_image(data, max_pixels=parts.settings.max_pixels)
        except ImageError:
            return "gone"  # the URL now serves something that is not a picture
        sha256 = hashlib.sha256(data).hexdigest()
        return "still" if judge.judge(Picture(image, sha256)).same else "gone"

    still: list[WatchedPosting] = []
    gone: list[WatchedPosting] = []
    unchecked: list[WatchedPosting] = []
    with one_blas_thread(), ThreadPoolExecutor(RECHECK_WORKERS) as pool:
        for posting, outcome in zip(postings, pool.map(look, postings), strict=True):
            {"still": still, "gone": gone, "unchecked": unchecked}[outcome].append(posting)
    return still, gone, unchecked


def _check_picture(
    book: WatchBook,
    picture: WatchedPicture,
    engines: Sequence[ReverseImageSource],
    sources: Mapping[str, ImageSource],
    parts: CheckParts,
    budget: Budget,
    thresholds: Thresholds,
    index: bool,
) -> PictureCheck:
    data = book.picture_bytes(picture.id)
    image = decode_image(data, max_pixels=parts.settings.max_pixels)
    judge = Judge(Picture(image, picture.id), thresholds=thresholds)
    wanted = [e for e in engines if not picture.engines or engine_name(e) in picture.engines]
    spent_before = budget.spent
    answers = ask_engines(data, wanted, kinds=("exact",), budget=budget) if wanted else []
    missing = [name for name in picture.sources if name not in sources]
    answers += [
        _source_answer(name, source, picture.keyphrase)
        for name, source in sources.items()
        if name in picture.sources
    ]
    claims = merge_claims(answers, picture.id)
    seen = book.seen(picture.id)
    fresh: Claims = {id: claim for id, claim in claims.items() if id not in seen}
    checked = check_claims(judge, fresh, parts, index=index)
    now = int(time.time())
    found = _found(fresh, checked, now)
    found_ids = {p.posting_id for p in found}
    before = [p for p in book.postings(picture.id) if p.posting_id not in found_ids]
    # Claimed again: still there (a posting reported gone that is back counts too).
    claimed_again = [p for p in before if p.posting_id in claims]
    known = [p for p in before if p.present]
    still, gone, unchecked = _look_again(
        [p for p in known if p.posting_id not in claims], judge, parts
    )
    still += claimed_again
    judged = [id for id in fresh if id not in checked.failures]
    new = book.record_check(
        picture.id,
        judged=judged,
        found=found,
        still_there=[p.posting_id for p in still],
        gone=[p.posting_id for p in gone],
        now=now,
    )
    new_ids = {p.posting_id for p in new}
    earlier = [p for p in book.unreported(picture.id) if p.posting_id not in new_ids]
    problems = _problems(answers) + tuple(f"{name}: no such source given" for name in missing)
    return PictureCheck(
        picture=picture,
        new=tuple(earlier + new),
        still_there=tuple(still),
        gone=tuple(gone),
        unchecked=tuple(unchecked),
        problems=problems,
        searches=budget.spent - spent_before,
    )


def run_check(
    book: WatchBook,
    *,
    engines: Sequence[ReverseImageSource],
    sources: Mapping[str, ImageSource],
    parts: CheckParts,
    budget: Budget,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    index: bool = True,
    only: Sequence[str] = (),
) -> WatchCheck:
    """Check every watched picture (or those whose ids are in ``only``); see the module docstring.

    The new postings returned are marked reported only once all pictures are
    done, so a check stopped part-way returns them next time.
    """
    checks = []
    for picture in book.pictures():
        if only and picture.id not in only:
            continue
        checks.append(
            _check_picture(book, picture, engines, sources, parts, budget, thresholds, index)
        )
    for check in checks:
        book.mark_reported(check.picture.id, [p.posting_id for p in check.new])
    skipped = tuple(
        f"{c.picture.label}: {p}" for c in checks for p in c.problems if " skipped: budget" in p
    )
    return WatchCheck(tuple(checks), budget.spent, budget.max_searches, skipped)
