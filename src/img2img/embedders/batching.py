"""What the torch-based embedders share: batching, pixel preparation, normalisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from img2img.models import Vector

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["Pixels", "l2_normalise", "prepare_and_run", "prepare_pixels", "run_batched"]

T = TypeVar("T")
#: One prepared image: float32 ``(3, height, width)``, C-contiguous, normalised for its model.
Pixels = np.ndarray[Any, np.dtype[np.float32]]


def l2_normalise(matrix: Vector) -> Vector:
    """Scale each row of a float ``(n, dim)`` array to unit length (zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vector = (matrix / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return normalised


def prepare_pixels(
    image: Image.Image,
    *,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    fit: Literal["squash", "shortest"],
) -> Pixels:
    """An RGB image as a normalised float32 ``(3, height, width)`` array, C-contiguous.

    ``fit="squash"`` resizes the whole frame to ``size``; ``"shortest"`` scales
    the short side to fit and crops the centre, as torchvision's
    ``Resize(short) + CenterCrop`` do. Both resample bicubic, with Pillow.
    The result is C-contiguous on purpose: a transposed view stacks into a
    channels-last batch, which ran a channels-first model at half speed.
    """
    from PIL import Image

    image = image.convert("RGB")
    width, height = size
    if fit == "squash":
        resized = image.resize((width, height), Image.Resampling.BICUBIC)
    else:
        if image.width <= image.height:
            target = (width, max(height, int(width * image.height / image.width)))
        else:
            target = (max(width, int(height * image.width / image.height)), height)
        if target != image.size:
            image = image.resize(target, Image.Resampling.BICUBIC)
        left = round((image.width - width) / 2.0)
        top = round((image.height - height) / 2.0)
        resized = image.crop((left, top, left + width, top + height))
    pixels = np.asarray(resized, dtype=np.float32) * np.float32(1 / 255)
    pixels -= np.asarray(mean, dtype=np.float32)
    pixels /= np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def prepare_and_run(
    images: Sequence[Image.Image],
    prepare: Callable[[Image.Image], Pixels],
    forward: Callable[[np.ndarray[Any, np.dtype[np.float32]]], Vector],
    batch_size: int,
) -> Vector:
    """``forward`` over prepared batches of ``images``, preparing the next batch meanwhile.

    Resizing (Pillow) and the network (ONNX Runtime) both release the GIL, so
    a second thread preparing batch k+1 while batch k runs keeps the cores busy
    instead of leaving them idle during preparation. Returns ``(n, dim)`` rows.
    """
    from concurrent.futures import ThreadPoolExecutor

    starts = range(0, len(images), batch_size)

    def batch(start: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        return np.stack([prepare(image) for image in images[start : start + batch_size]])

    outputs: list[Vector] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="img2img-prepare") as pool:
        pending = pool.submit(batch, starts[0])
        for index in range(len(starts)):
            pixels = pending.result()
            if index + 1 < len(starts):
                pending = pool.submit(batch, starts[index + 1])
            outputs.append(forward(pixels))
    return np.concatenate(outputs)


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
