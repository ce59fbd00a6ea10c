"""Vectors shaped like a store's: clustered unit vectors, written in pages, and recall of answers."""

from __future__ import annotations

import numpy as np

from img2img.models import VectorRecord
from img2img.protocols import VectorStore

DOMAINS = [f"site{i}.example" for i in range(10)]


def clustered(n: int, seed: int = 0, clusters: int = 40, dim: int = 48) -> np.ndarray:
    """Unit vectors around a few centres, as photos of a few subjects are."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    rows = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim)).astype(
        np.float32
    )
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def fill(store: VectorStore, vectors: np.ndarray, first: int = 0) -> None:
    """Records ``r<first + i>`` with a domain of ten and their number ``n``, a page at a time."""
    for start in range(0, vectors.shape[0], 1000):
        store.upsert(
            [
                VectorRecord(
                    f"r{first + i}",
                    vectors[i],
                    {"domain": DOMAINS[(first + i) % 10], "n": first + i},
                )
                for i in range(start, min(start + 1000, vectors.shape[0]))
            ]
        )


def overlap(found: list[list[str]], truth: list[list[str]]) -> float:
    """The share of the true answers' ids found, over every query."""
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / sum(
        len(t) for t in truth
    )
