"""What the torch-based embedders share: batching, normalisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from img2img.models import Vector

if TYPE_CHECKING:
    import torch

__all__ = ["l2_normalise", "run_batched"]

T = TypeVar("T")


def l2_normalise(matrix: Vector) -> Vector:
    """Scale each row of a float ``(n, dim)`` array to unit length (zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vector = (matrix / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return normalised


def run_batched(
    items: Sequence[T],
    *,
    batch_size: int,
    dimension: int,
    to_tensor: Callable[[Sequence[T]], torch.Tensor],
    forward: Callable[[torch.Tensor], torch.Tensor],
) -> Vector:
    """Run ``forward`` over ``items`` in batches; return unit float32 rows ``(n, dimension)``."""
    if not items:
        return np.zeros((0, dimension), dtype=np.float32)
    import torch

    outputs: list[Vector] = []
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = to_tensor(items[start : start + batch_size])
            outputs.append(forward(batch).float().cpu().numpy())
    return l2_normalise(np.concatenate(outputs))
