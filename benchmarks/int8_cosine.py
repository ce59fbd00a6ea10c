"""Static int8 against fp32, on held-out real photos, on the CPU this process sees.

Quantises each image tower the way CLIP folders are (``img2img.embedders.clip_int8``:
per-channel weights with 7 bits, activations calibrated on real photos, only the
matrix products) and reports the cosine of its vectors to fp32 ONNX Runtime on
photos it was not calibrated on, and both speeds at batch 8. EfficientNet-Lite0
has its real ImageNet weights; CLIP ViT-B-32 random ones (real ones cannot be
downloaded here). Photos: benchmarks/photoset.py (odd ones calibrate, even ones check).
Run it under ``benchmarks/as_avx2.py`` too: int8 kernels without VNNI differ.

    python benchmarks/int8_cosine.py [--model efficientnet|clip|both] [--photos 40]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_flags, seen_flags
from photoset import load_photos

from img2img.embedders.clip_int8 import quantise_static_int8
from img2img.embedders.clip_onnx import Tower


def rate(forward: Any, pixels: np.ndarray[Any, Any]) -> float:
    forward(pixels[:8])
    best = 0.0
    for _ in range(2):
        started = time.perf_counter()
        for start in range(0, len(pixels), 8):
            forward(pixels[start : start + 8])
        best = max(best, len(pixels) / (time.perf_counter() - started))
    return best


def compare(name: str, fp32: Path, pixels: np.ndarray[Any, Any], folder: Path) -> None:
    calibration, held_out = pixels[1::2], pixels[0::2]
    int8 = folder / f"{name}.int8.onnx"
    started = time.perf_counter()
    quantise_static_int8(fp32, int8, calibration)
    built = time.perf_counter() - started
    exact, quick = Tower(fp32).run, Tower(int8).run
    a, b = exact(held_out), quick(held_out)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    cosines = np.sum(a * b, axis=1)
    print(
        f"{name:34} held-out cosine min {cosines.min():.4f} mean {cosines.mean():.4f} "
        f"({len(calibration)} calibrate, {len(held_out)} check; built in {built:.0f} s); "
        f"img/s b8 fp32 {rate(exact, held_out):.1f}, int8 {rate(quick, held_out):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["efficientnet", "clip", "both"], default="both")
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(
        f"CPU: {cpu_flags()}; seen by this process: {seen_flags()}; load {os.getloadavg()[0]:.1f}"
    )
    photos = [image for _, image in sorted(load_photos()[0].items())][: args.photos]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        if args.model in ("efficientnet", "both"):
            from img2img import EfficientNetEmbedder
            from img2img.embedders.efficientnet import onnx_model_path

            embedder = EfficientNetEmbedder(cache_dir=folder)
            pixels = np.stack([embedder.prepare(p) for p in photos])
            compare("EfficientNet-Lite0 (real weights)", onnx_model_path(folder), pixels, folder)
        if args.model in ("clip", "both"):
            from img2img import ClipEmbedder
            from img2img.embedders.clip_export import export_clip_folder

            clip_folder = export_clip_folder("ViT-B-32", None, folder / "clip")
            clip = ClipEmbedder("ViT-B-32", pretrained=clip_folder)
            pixels = np.stack([clip.prepare(p) for p in photos])
            compare(
                "CLIP ViT-B-32 (random weights)",
                clip_folder / "visual" / "model.onnx",
                pixels,
                folder,
            )


if __name__ == "__main__":
    main()
