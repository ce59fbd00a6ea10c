"""Picking the best ``k`` of many scores, the same way in every local store."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["top_k"]

Scores = npt.NDArray[np.float32]

# Above this many scores, guess the k-th best from every _STRIDE-th score first.
_SAMPLE_FROM = 16_384
_STRIDE = 16


def _kth_largest(scores: Scores, k: int) -> float:
    n = scores.shape[0]
    if n >= _SAMPLE_FROM:
        sample = scores[::_STRIDE]
        if sample.shape[0] > k:
            # At least k scores reach the sample's k-th best, so the k best overall
            # are all among those that do: a few hundred, not a million.
            guess = np.partition(sample, sample.shape[0] - k)[sample.shape[0] - k]
            candidates = scores[scores >= guess]
            if k <= candidates.shape[0] <= n // 4:
                return float(
                    np.partition(candidates, candidates.shape[0] - k)[candidates.shape[0] - k]
                )
    return float(np.partition(scores, n - k)[n - k])


def top_k(scores: Scores, k: int) -> npt.NDArray[np.intp]:
    """Indices of the ``k`` highest ``scores``, highest first; equal scores keep index order.

    Same result as ``np.argsort(-scores, kind="stable")[:k]`` in O(n) rather
    than O(n log n): find the k-th best score, then sort only what beats or
    ties it.
    """
    n = scores.shape[0]
    if k >= n:
        return np.argsort(-scores, kind="stable")
    threshold = _kth_largest(scores, k)
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: k - above.shape[0]]
    chosen = np.concatenate([above, ties])
    return chosen[np.lexsort((chosen, -scores[chosen]))]
