"""Which runtime runs a CLIP folder's image tower on this CPU: measured once, remembered.

The routes:

- ``"onnxruntime"``: ``visual/model.onnx`` in fp32, the reference;
- ``"onnxruntime-int8"``: an int8 copy of the tower, the folder's own
  ``visual/model.int8.onnx`` (:func:`img2img.embedders.clip_int8.add_int8_tower`)
  or the one built from the first pictures embedded (:mod:`img2img.embedders.clip_int8_auto`);
- ``"openvino"``: the fp32 tower compiled by OpenVINO (the ``[openvino]`` extra);
- ``"openvino-int8"``: the int8 tower compiled by OpenVINO (its own int8 kernels).

Which is fastest depends on the CPU: int8 gains most where the CPU has VNNI,
OpenVINO's kernels and ONNX Runtime's differ per instruction set. So at first
use on a CPU every route that loads embeds the probe pictures; one whose
vectors fall under :data:`~img2img.embedders.runtime.MIN_COSINE` to fp32 ONNX
Runtime is passed over (the int8 kernels, and so the vectors, differ between
CPUs with and without VNNI), the rest are timed on a batch, rounds
interleaved, and the fastest is written to ``<cache>/clip-routes/<key>.json``.
The key names the tower files (size and time), the CPU as CPUID shows it to the
process and the runtimes' versions, so another CPU, model, int8 tower or runtime
measures again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from img2img.cores import available_cores
from img2img.embedders.batching import prepare_pixels
from img2img.embedders.clip_onnx import OnnxClip, Tower
from img2img.embedders.cpu_features import cpu_key
from img2img.embedders.runtime import (
    MIN_COSINE,
    Forward,
    Runtime,
    openvino_forward,
    probe_images,
)
from img2img.errors import ConfigurationError, MissingDependencyError, ModelUnavailableError

__all__ = ["ROUTES", "VisualRoute", "choose_visual_route"]

logger = logging.getLogger("img2img")

#: Every route, in the order they are tried.
ROUTES = ("onnxruntime", "onnxruntime-int8", "openvino", "openvino-int8")
_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class VisualRoute:
    """What runs the image tower: its name, and its cosine to fp32 on the probe pictures."""

    name: str
    forward: Forward
    cosine: float = 1.0


def _load(name: str, clip: OnnxClip, cache_dir: Path, int8: Path | None) -> Forward:
    path = clip.folder / "visual" / "model.onnx"
    if name.endswith("-int8"):
        if int8 is None or not int8.is_file():
            raise ModelUnavailableError(f"no int8 tower for {clip.folder}")
        path = int8
    if name.startswith("onnxruntime"):
        return Tower(path).run
    return openvino_forward(path, available_cores(), cache_dir)


def _versions() -> str:
    found = []
    for package in ("onnxruntime", "openvino"):
        try:
            found.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package}=none")
    return ",".join(found)


def _key(clip: OnnxClip, int8: Path | None) -> str:
    parts = [cpu_key(), _versions()]
    for path in (clip.folder / "visual" / "model.onnx", int8):
        if path is not None and path.is_file():
            stat = path.stat()
            parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _probe(clip: OnnxClip, rows: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    settings = clip.preprocess
    pixels = [
        prepare_pixels(
            image, size=settings.size, mean=settings.mean, std=settings.std, fit="shortest"
        )
        for image in probe_images()
    ]
    return np.stack([pixels[i % len(pixels)] for i in range(rows)])


def _min_cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


def choose_visual_route(
    clip: OnnxClip, runtime: Runtime, cache_dir: Path, *, batch_size: int, int8: Path | None
) -> VisualRoute:
    """The route that runs ``clip``'s image tower; ``runtime="auto"`` picks the fastest.

    ``int8`` is the int8 copy of the tower to consider (``None``: the fp32
    routes alone). ``"onnxruntime"`` (and ``"torch"``, which an ONNX folder
    cannot honour otherwise) is fp32 ONNX Runtime; ``"openvino"`` asks for
    OpenVINO and raises :class:`MissingDependencyError` without it.
    """
    if runtime in ("onnxruntime", "torch"):
        return VisualRoute("onnxruntime", _load("onnxruntime", clip, cache_dir, None))
    if runtime == "openvino":
        return VisualRoute("openvino", _load("openvino", clip, cache_dir, None))
    record = cache_dir / "clip-routes" / f"{_key(clip, int8)}.json"
    remembered = _remembered(record)
    if remembered is not None:
        try:
            return VisualRoute(remembered, _load(remembered, clip, cache_dir, int8))
        except (MissingDependencyError, ModelUnavailableError) as exc:
            logger.info(
                "img2img: the remembered route %s failed, measuring again: %s", remembered, exc
            )
    return _measure(clip, cache_dir, record, batch_size, int8)


def _remembered(record: Path) -> str | None:
    try:
        chosen = json.loads(record.read_text(encoding="utf-8")).get("route")
    except (OSError, ValueError, AttributeError):
        return None
    return chosen if chosen in ROUTES else None


def _measure(
    clip: OnnxClip, cache_dir: Path, record: Path, batch_size: int, int8: Path | None
) -> VisualRoute:
    fp32 = _load("onnxruntime", clip, cache_dir, None)
    if Tower(clip.folder / "visual" / "model.onnx").fixed_batch:
        return VisualRoute("onnxruntime", fp32)  # a batch-of-one export: nothing to compare
    logger.warning("img2img: timing CLIP's runtimes on this CPU, once (a few seconds)...")
    probe = _probe(clip, min(batch_size, 8))
    reference = fp32(probe)
    routes = {"onnxruntime": VisualRoute("onnxruntime", fp32)}
    passed_over: dict[str, str] = {}
    for name in ROUTES[1:]:
        try:
            forward = _load(name, clip, cache_dir, int8)
            cosine = _min_cosine(forward(probe), reference)
        except (MissingDependencyError, ModelUnavailableError, ConfigurationError) as exc:
            passed_over[name] = str(exc).split("\n")[0]
            continue
        if cosine < MIN_COSINE:
            passed_over[name] = f"cosine {cosine:.4f} to fp32 is under {MIN_COSINE}"
            continue
        routes[name] = VisualRoute(name, forward, cosine)
    rates = _timed({name: route.forward for name, route in routes.items()}, probe)
    chosen = max(rates, key=lambda name: rates[name])
    _write(record, chosen, rates, routes, passed_over)
    logger.warning(
        "img2img: CLIP runs with %s here (%s)",
        chosen,
        ", ".join(f"{name} {rate:.1f} img/s" for name, rate in rates.items()),
    )
    return routes[chosen]


def _timed(
    forwards: dict[str, Callable[[Any], Any]], probe: np.ndarray[Any, Any]
) -> dict[str, float]:
    """Images per second of each forward, the best of interleaved rounds after a warm-up."""
    for forward in forwards.values():
        forward(probe)
    best = dict.fromkeys(forwards, 0.0)
    for _ in range(_ROUNDS):
        for name, forward in forwards.items():
            started = time.perf_counter()
            forward(probe)
            best[name] = max(best[name], len(probe) / (time.perf_counter() - started))
    return best


def _write(
    record: Path,
    chosen: str,
    rates: dict[str, float],
    routes: dict[str, VisualRoute],
    passed_over: dict[str, str],
) -> None:
    document = {
        "route": chosen,
        "cpu": cpu_key(),
        "images_per_second": {name: round(rate, 2) for name, rate in rates.items()},
        "cosine": {name: round(route.cosine, 5) for name, route in routes.items()},
        "passed_over": passed_over,
    }
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary = record.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
        os.replace(temporary, record)
    except OSError as exc:  # a read-only cache costs a measurement per process, nothing more
        logger.info("img2img: could not remember CLIP's route in %s: %s", record, exc)
