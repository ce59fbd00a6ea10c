"""Is a claimed picture the picture asked about? The check ``locate`` runs on every claim.

One :class:`ClaimChecker` holds the query's features (computed once) and
compares each claim with them: the same sha256 is ``exact`` without looking
at pixels; otherwise the postings verifier (local features and one geometric
fit, see :mod:`img2img.postings.verify`) decides ``copy`` or not. The checker
is the indexing pipeline's :class:`~img2img.pipeline.Gate`: it sees every
downloaded claim on the threads decoding images, before the model does, so a picture
that is not a copy is never embedded or stored, and nothing is downloaded twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from img2img.models import Evidence, ImageCandidate, Relation
from img2img.postings.features import LocalFeatures, extract_features
from img2img.postings.verify import DEFAULT_THRESHOLDS, QueryFeatures, Thresholds, verify_features
from img2img.provenance import difference_hash, hamming_distance

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ClaimChecker", "Verdict"]


@dataclass(frozen=True, slots=True, eq=False)
class Verdict:
    """One claim compared with the query.

    ``relation`` is ``exact`` (same bytes), ``copy`` (verified) or ``None``
    (another picture, ``reason`` says why). ``evidence`` holds the fit's
    figures when pixels were compared; ``features`` the claim's own, to keep
    in the picture cache.
    """

    relation: Relation | None
    evidence: Evidence | None = None
    reason: str = ""
    features: LocalFeatures | None = None


def _distance(query_hash: str, candidate_hash: str | None) -> int | None:
    if candidate_hash is None:
        return None
    try:
        return hamming_distance(query_hash, candidate_hash)
    except ValueError:
        return None


class ClaimChecker:
    """Compares claimed pictures with one query; thread-safe.

    Args:
        query: the picture asked about, RGB.
        sha256: hex digest of the query's bytes: claims with equal bytes are ``exact``.
        thresholds: when a fit means "the same picture".

    Verifying multiplies small matrices; callers run it with
    :func:`~img2img.postings.verify.one_blas_thread` around the whole run.
    """

    def __init__(
        self, query: Image.Image, sha256: str, *, thresholds: Thresholds = DEFAULT_THRESHOLDS
    ) -> None:
        self.sha256 = sha256
        self._thresholds = thresholds
        self._query = QueryFeatures.of(query)
        self._query_hash = difference_hash(query)
        self._lock = threading.Lock()
        self._verdicts: dict[str, Verdict] = {}

    def judge(
        self,
        candidate: Image.Image | LocalFeatures,
        sha256: str | None,
        dhash: str | None = None,
    ) -> Verdict:
        """Compare one claimed picture (decoded, or its features) with the query.

        ``dhash`` is the claim's perceptual hash, when known, for the evidence.
        """
        if sha256 == self.sha256:
            return Verdict("exact")
        if isinstance(candidate, LocalFeatures):
            features = candidate
        else:
            features = extract_features(candidate)
            dhash = dhash or difference_hash(candidate)
        result = verify_features(self._query, features, thresholds=self._thresholds)
        evidence = replace(result.evidence, hash_distance=_distance(self._query_hash, dhash))
        return Verdict("copy" if result.same else None, evidence, result.reason, features)

    def admit(self, id: str, candidate: ImageCandidate, image: Image.Image, sha256: str) -> bool:
        """The pipeline's gate: judge a downloaded claim, remember the verdict, let copies on."""
        verdict = self.judge(image, sha256)
        with self._lock:
            self._verdicts[id] = verdict
        return verdict.relation is not None

    def verdict(self, id: str) -> Verdict | None:
        """What :meth:`admit` decided for record ``id``, if it saw it."""
        with self._lock:
            return self._verdicts.get(id)
