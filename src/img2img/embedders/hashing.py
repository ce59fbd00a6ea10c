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
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.embedders.batching import l2_normalise
from img2img.errors import ConfigurationError
from img2img.models import Vector
from img2img.options import Option, OptionValues, positive_int

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["HashEmbedder"]

_THUMB = 16


class HashEmbedder:
    """A ``TextEmbedder`` and ``PreparingEmbedder`` that records its calls.

    ``image_batches`` and ``text_batches`` hold the sizes of the batches the
    model part embedded (``embed_images`` and ``embed_prepared`` alike);
    ``prepare_threads`` and ``embed_threads`` the names of the threads that
    prepared images and that ran the model part.
    """

    command_note = "for tests: no model, vectors from the pixels' hash"
    command_options = (
        Option("hash-dimension", "vector length (default: 64)", metavar="N", type=positive_int),
    )

    @classmethod
    def builds(cls, model_id: str) -> bool:
        """Whether ``model_id``, recorded by a store, is a hash embedder's: ``hash/DIM/seed-N``."""
        return model_id.startswith("hash/")

    @classmethod
    def from_options(cls, values: OptionValues, *, recorded: str | None) -> HashEmbedder:
        """The embedder ``--embedder hash`` builds, or the one that wrote ``recorded``."""
        if recorded is None:
            return cls(values.get("hash_dimension", 64))
        try:
            _, dimension, seed = recorded.split("/")
            return cls(int(dimension), seed=int(seed.removeprefix("seed-")))
        except ValueError as exc:
            raise ConfigurationError(f"cannot rebuild the embedder {recorded!r}") from exc

    def __init__(self, dimension: int = 64, *, seed: int = 0) -> None:
        self.dimension = dimension
        self.model_id = f"hash/{dimension}/seed-{seed}"
        rng = np.random.default_rng(seed)
        self._projection = rng.standard_normal((_THUMB * _THUMB * 3, dimension)).astype(np.float32)
        self._lock = threading.Lock()
        self.image_batches: list[int] = []
        self.text_batches: list[int] = []
        self.prepare_threads: list[str] = []
        self.embed_threads: list[str] = []

    def prepare(self, image: Image.Image) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The centred 16x16 thumbnail: float32 ``(768,)``."""
        from PIL import Image

        with self._lock:
            self.prepare_threads.append(threading.current_thread().name)
        thumb = image.convert("RGB").resize((_THUMB, _THUMB), Image.Resampling.BILINEAR)
        pixels = np.asarray(thumb, dtype=np.float32).reshape(-1) / 255.0
        centred: np.ndarray[Any, np.dtype[np.float32]] = pixels - pixels.mean()
        return centred

    def embed_prepared(self, prepared: Sequence[np.ndarray[Any, np.dtype[np.float32]]]) -> Vector:
        """Project outputs of :meth:`prepare`; float32 ``(n, dimension)`` unit rows."""
        with self._lock:
            self.image_batches.append(len(prepared))
            self.embed_threads.append(threading.current_thread().name)
        if not len(prepared):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalise(np.stack(prepared) @ self._projection)

    def embed_images(self, images: Sequence[Image.Image]) -> Vector:
        return self.embed_prepared([self.prepare(image) for image in images])

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
