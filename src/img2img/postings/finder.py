"""Shortlist -> verify: which stored postings show the query's picture.

The embedding shortlist (the store's nearest neighbours) is cheap and finds
copies but also other photos of the same thing; each candidate is then checked:
equal sha256 means ``exact``; otherwise the local-feature verifier decides
``copy`` or not. Candidates are checked on a few threads (OpenCV and numpy
release the GIL), downloading any picture the cache lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
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
from img2img.postings.pictures import CandidatePictures
from img2img.postings.verify import (
    DEFAULT_THRESHOLDS,
    QueryFeatures,
    Thresholds,
    one_blas_thread,
    verify_features,
)
from img2img.provenance import difference_hash, hamming_distance

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["find_postings"]

#: Threads checking candidates at once: enough to overlap downloads with matching.
WORKERS = 4


def _hash_distance(query_hash: str, match: Match) -> int | None:
    stored = match.metadata.get("dhash")
    if not isinstance(stored, str):
        return None
    try:
        return hamming_distance(query_hash, stored)
    except ValueError:
        return None


def find_postings(
    image: Image.Image,
    shortlist: Sequence[Match],
    pictures: CandidatePictures,
    *,
    sha256: str | None = None,
    exclude_id: str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sort_by: PostingSort = "match",
    workers: int = WORKERS,
) -> Postings:
    """The postings among ``shortlist`` that show the same picture as ``image``.

    ``sha256`` is the hex digest of the query's bytes, when it came as bytes, a
    file or a URL: equal digests are ``exact`` without looking at pixels.
    ``exclude_id`` is the query's own record, when it is stored. Candidates
    whose image cannot be had are returned in ``Postings.unverified``.
    """
    candidates = [m for m in shortlist if m.id != exclude_id]
    query_hash = difference_hash(image)
    found: list[Posting] = []
    to_verify: list[Match] = []
    for match in candidates:
        if sha256 is not None and match.metadata.get("sha256") == sha256:
            found.append(Posting.from_match(match, "exact"))
        else:
            to_verify.append(match)

    unverified: list[Unverified] = []
    if to_verify:
        query = QueryFeatures.of(image)

        def check(match: Match) -> Posting | Unverified | None:
            try:
                features = pictures.features(match.id, match.image_url)
            except (FetchError, ImageError) as exc:
                return Unverified(match.id, match.score, match.image_url, match.page_url, str(exc))
            result = verify_features(query, features, thresholds=thresholds)
            if not result.same:
                return None
            evidence = replace(result.evidence, hash_distance=_hash_distance(query_hash, match))
            return Posting.from_match(match, "copy", evidence)

        with (
            one_blas_thread(),
            ThreadPoolExecutor(max(1, workers), thread_name_prefix="img2img-verify") as pool,
        ):
            for outcome in pool.map(check, to_verify):
                if isinstance(outcome, Posting):
                    found.append(outcome)
                elif isinstance(outcome, Unverified):
                    unverified.append(outcome)
    return Postings(tuple(sort_postings(found, sort_by)), tuple(unverified), len(candidates))
