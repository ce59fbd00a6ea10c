"""HashEmbedder: a deterministic, dependency-free embedder for tests and examples.

It shrinks an image to a 16x16 colour thumbnail and projects the centred
pixels with a fixed random matrix. Identical images give identical vectors and
small edits give nearby ones, so pipelines can be tested end to end in
milliseconds. It understands nothing about content: never use it for real search.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from img2img.embedders.batching import l2_normalise
from img2img.models import Vector

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["HashEmbedder"]

_THUMB = 16


class HashEmbedder:
    """A ``TextEmbedder`` that records its calls: ``image_batches`` and ``text_batches`` hold batch sizes."""

    def __init__(self, dimension: int = 64, *, seed: int = 0) -> None:
        self.dimension = dimension
        self.model_id = f"hash/{dimension}/seed-{seed}"
        rng = np.random.default_rng(seed)
        self._projection = rng.standard_normal((_THUMB * _THUMB * 3, dimension)).astype(np.float32)
        self._lock = threading.Lock()
        self.image_batches: list[int] = []
        self.text_batches: list[int] = []

    def embed_images(self, images: Sequence[Image.Image]) -> Vector:
        from PIL import Image

        with self._lock:
            self.image_batches.append(len(images))
        if not images:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = []
        for image in images:
            thumb = image.convert("RGB").resize((_THUMB, _THUMB), Image.Resampling.BILINEAR)
            pixels = np.asarray(thumb, dtype=np.float32).reshape(-1) / 255.0
            rows.append(pixels - pixels.mean())
        return l2_normalise(np.stack(rows) @ self._projection)

    def embed_texts(self, texts: Sequence[str]) -> Vector:
        with self._lock:
            self.text_batches.append(len(texts))
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "big"))
            .standard_normal(self.dimension)
            .astype(np.float32)
            for t in texts
        ]
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalise(np.stack(rows))
