"""Copy detection quality and speed of the offline embedder, against a centre-crop baseline.

Indexes the sample photos, then queries with edited copies of each (resized,
cropped at the edges, re-saved as JPEG at several strengths) and reports how
often the original ranks first, the weakest copy's score, the strongest score
of a different photo, and milliseconds per image. The baseline is the usual
ImageNet preprocessing (short side 256, centre crop 224); img2img resizes the
whole frame instead.

    python benchmarks/copy_detection.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

import img2img.embedders.efficientnet as efficientnet
from img2img import EfficientNetEmbedder
from img2img.testing.photos import edited_copy, sample_photos

EDITS = [
    {"scale": 0.6, "crop": 0.08, "quality": 70},
    {"scale": 0.35, "crop": 0.12, "quality": 40},
    {"scale": 0.5, "crop": 0.2, "quality": 50},
]


def centre_crop(image: Image.Image) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The baseline: short side to 256 (bicubic), centre crop 224, scale to [-1, 1]."""
    image = image.convert("RGB")
    scale = 256 / min(image.size)
    resized = image.resize(
        (max(224, round(image.width * scale)), max(224, round(image.height * scale))),
        Image.Resampling.BICUBIC,
    )
    left, top = (resized.width - 224) // 2, (resized.height - 224) // 2
    pixels = np.asarray(resized.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255.0
    return ((pixels - 0.5) / 0.5).transpose(2, 0, 1)


def evaluate(
    preprocess: Callable[[Image.Image], np.ndarray[Any, np.dtype[np.float32]]],
    embedder: EfficientNetEmbedder,
    photos: dict[str, Image.Image],
) -> list[tuple[float, float, float, float]]:
    efficientnet._preprocess = preprocess  # swap the step under test, nothing else
    names = list(photos)
    started = time.perf_counter()
    originals = embedder.embed_images([photos[n] for n in names])
    ms_per_image = (time.perf_counter() - started) * 1000 / len(names)
    rows = []
    for edit in EDITS:
        queries = embedder.embed_images([edited_copy(photos[n], **edit) for n in names])  # type: ignore[arg-type]
        scores = queries @ originals.T
        rank1 = float(np.mean(scores.argmax(axis=1) == np.arange(len(names))))
        others = scores.copy()
        np.fill_diagonal(others, -1.0)
        rows.append((rank1, float(np.diag(scores).min()), float(others.max()), ms_per_image))
    return rows


def main() -> None:
    photos = sample_photos()
    embedder = EfficientNetEmbedder()
    embedder.embed_images([next(iter(photos.values()))])  # load the weights outside the timing
    whole_frame = efficientnet._preprocess
    baseline = evaluate(centre_crop, embedder, photos)
    ours = evaluate(whole_frame, embedder, photos)
    efficientnet._preprocess = whole_frame
    print(f"{len(photos)} photos; rank-1 = share of edited copies whose original comes first\n")
    print(f"{'edit':38} {'centre crop':>24} {'whole frame (img2img)':>24}")
    print(f"{'':38} {'rank-1  copy>=  other<=':>24} {'rank-1  copy>=  other<=':>24}")
    for edit, b, o in zip(EDITS, baseline, ours, strict=True):
        label = f"scale {edit['scale']}, crop {edit['crop']}, q{edit['quality']}"
        print(
            f"{label:38} {b[0]:6.0%}  {b[1]:6.3f}  {b[2]:6.3f}   {o[0]:6.0%}  {o[1]:6.3f}  {o[2]:6.3f}"
        )
    print(
        f"\nms per image (batch of {len(photos)}): centre crop {baseline[0][3]:.1f}, whole frame {ours[0][3]:.1f}"
    )


if __name__ == "__main__":
    main()
