"""Shortlist -> judge: which stored postings show the query's picture.

The embedding shortlist (the store's nearest neighbours) is cheap and finds
copies but also other photos of the same thing; each candidate is then judged
(:mod:`img2img.postings.judge`: equal sha256 is ``exact``, else the verified
fit decides ``copy`` or not). Candidates are judged on a few threads of this
module's pool (OpenCV and numpy release the GIL), downloading any picture the
cache lacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from img2img.errors import FetchError, ImageError
from img2img.models import (
    Match,
    Posting,
    Postings,
    PostingSort,
    Unverified,
    sort_postings,
)
from img2img.postings.judge import (
    DEFAULT_THRESHOLDS,
    Judge,
    Picture,
    Thresholds,
    one_blas_thread,
)
from img2img.postings.pictures import CandidatePictures
from img2img.postings.regions import Box

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["find_postings"]

#: Threads judging candidates at once: enough to overlap downloads with matching.
WORKERS = 4


def find_postings(
    image: Image.Image,
    shortlist: Sequence[Match],
    pictures: CandidatePictures,
    *,
    sha256: str | None = None,
    exclude_id: str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sort_by: PostingSort = "match",
    workers: int | None = None,
    regions: Mapping[str, Sequence[Box]] | None = None,
) -> Postings:
    """The postings among ``shortlist`` that show the same picture as ``image``.

    ``sha256`` is the hex digest of the query's bytes, when it came as bytes, a
    file or a URL: equal digests are ``exact`` without looking at pixels.
    ``exclude_id`` is the query's own record, when it is stored. Candidates
    whose image cannot be had are returned in ``Postings.unverified``.
    ``regions`` maps a candidate's id to the boxes of the query whose embedding
    found it (:func:`~img2img.postings.shortlist.shortlist`): the judge verifies
    with them when the whole query does not.
    """
    hints = regions or {}
    candidates = [m for m in shortlist if m.id != exclude_id]
    judge = Judge(Picture(image, sha256), thresholds=thresholds)

    def check(match: Match) -> Posting | Unverified | None:
        try:
            judgement = judge.judge(
                Picture.of_match(match, pictures), regions=hints.get(match.id, ())
            )
        except (FetchError, ImageError) as exc:
            return Unverified(match.id, match.score, match.image_url, match.page_url, str(exc))
        return judgement.posting(match) if judgement.same else None

    found: list[Posting] = []
    unverified: list[Unverified] = []
    with (
        one_blas_thread(),
        ThreadPoolExecutor(max(1, workers or WORKERS), thread_name_prefix="img2img-verify") as pool,
    ):
        for outcome in pool.map(check, candidates):
            if isinstance(outcome, Posting):
                found.append(outcome)
            elif isinstance(outcome, Unverified):
                unverified.append(outcome)
    # Exact postings ahead of copies before sorting, so ties of the sort keep them first.
    found.sort(key=lambda posting: posting.relation != "exact")
    return Postings(tuple(sort_postings(found, sort_by)), tuple(unverified), len(candidates))
