"""An int8 copy of a CLIP folder's image tower, calibrated on real photos (no torch).

``visual/model.int8.onnx`` is the fp32 tower with static int8 quantisation:
weights per output channel, activations with ranges measured on photos, only
the matrix products (MatMul, Gemm, Conv) quantised, so softmax, layer norm and
the residual additions stay fp32. Weights use 7 of their 8 bits
(``reduce_range``): without VNNI, AVX2's int8 multiply-add saturates at 16
bits, which cost ViT-B-32 up to 5% of cosine (0.955) on an AVX2 view of the CPU,
against 0.9995 with 7-bit weights.

The copy is kept only when its vectors agree with fp32 on held-out photos
(cosine at least :data:`~img2img.embedders.runtime.MIN_COSINE`, every photo);
``visual/int8.json`` records how it was made and checked. Whether it is then
used is decided on each CPU at first use (:mod:`img2img.embedders.clip_routes`),
since the int8 kernels, and so the vectors, differ from one CPU to the next.

``ClipEmbedder`` makes one by itself, in its cache, from the first pictures it
embeds (:mod:`img2img.embedders.clip_int8_auto`); to ship one inside a folder,
calibrated on photos of your own choosing::

    from img2img.embedders.clip_int8 import add_int8_tower
    add_int8_tower("/models/ViT-B-32-onnx", photos)   # a list of PIL images, 16 or more
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.embedders.clip_onnx import OnnxClip, Tower
from img2img.embedders.runtime import MIN_COSINE
from img2img.embedders.stack import import_model_package
from img2img.errors import ConfigurationError, ModelUnavailableError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "INT8_FILE",
    "INT8_RECORD",
    "Int8Report",
    "add_int8_tower",
    "check_int8_tower",
    "quantise_static_int8",
]

INT8_FILE = "model.int8.onnx"
INT8_RECORD = "int8.json"
_QUANTISED_OPERATORS = ["MatMul", "Gemm", "Conv"]


@dataclass(frozen=True, slots=True)
class Int8Report:
    """How the int8 tower was made and how close it came to fp32 on held-out photos."""

    kept: bool
    min_cosine: float
    mean_cosine: float
    calibration_photos: int
    held_out_photos: int


def _cosines(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    result: np.ndarray[Any, Any] = np.sum(a * b, axis=1)
    return result


def add_int8_tower(
    folder: str | Path, photos: Sequence[Image.Image], *, held_out: float = 0.5
) -> Int8Report:
    """Write ``visual/model.int8.onnx`` into a CLIP folder if it keeps cosine >= 0.99 to fp32.

    ``photos`` are real photos (at least 4): every other one calibrates the
    activation ranges, the rest (``held_out`` of them) check the result. A copy
    that falls short is not written (and an older one is removed); the report
    says either way. Takes a minute or so for ViT-B-32 on two cores.
    """
    if len(photos) < 4:
        raise ConfigurationError(
            "add_int8_tower needs at least 4 photos (half calibrate, half check)"
        )
    clip = OnnxClip(folder)
    visual = clip.folder / "visual"
    settings = clip.preprocess
    from img2img.embedders.batching import prepare_pixels

    pixels = np.stack(
        [
            prepare_pixels(
                p, size=settings.size, mean=settings.mean, std=settings.std, fit="shortest"
            )
            for p in photos
        ]
    )
    (visual / INT8_FILE).unlink(missing_ok=True)
    report = check_int8_tower(clip, pixels, visual / INT8_FILE, held_out=held_out)
    (visual / INT8_RECORD).write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return report


def check_int8_tower(
    clip: OnnxClip, pixels: np.ndarray[Any, Any], target: Path, *, held_out: float = 0.5
) -> Int8Report:
    """Quantise ``clip``'s image tower on prepared ``pixels``; write it to ``target`` only if kept.

    ``pixels`` is float32 ``(n, 3, height, width)``, as :meth:`OnnxClip.embed_pixels`
    takes them: every other row calibrates, the rest (``held_out``) check.
    ``target`` appears whole or not at all (written beside it, then renamed).
    """
    source = clip.folder / "visual" / "model.onnx"
    step = max(2, round(1 / held_out)) if 0 < held_out < 1 else 2
    checked = pixels[1::step]
    calibration = np.delete(pixels, np.s_[1::step], axis=0)
    with tempfile.TemporaryDirectory(prefix="img2img-int8-") as scratch:
        candidate = Path(scratch) / INT8_FILE
        quantise_static_int8(source, candidate, calibration)
        reference = Tower(source).run(checked)
        cosines = _cosines(Tower(candidate).run(checked), reference)
        report = Int8Report(
            kept=bool(cosines.min() >= MIN_COSINE),
            min_cosine=float(cosines.min()),
            mean_cosine=float(cosines.mean()),
            calibration_photos=len(calibration),
            held_out_photos=len(checked),
        )
        if report.kept:
            partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                shutil.copyfile(candidate, partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    return report


def quantise_static_int8(source: Path, target: Path, calibration: np.ndarray[Any, Any]) -> None:
    """Write ``source`` (one float32 input) as static int8 to ``target``, as described above.

    ``calibration`` is float32 ``(n, ...)``: prepared photos, fed one at a time.
    """
    import_model_package("onnxruntime", package="onnxruntime", needed_by="an int8 CLIP tower")
    from onnxruntime import InferenceSession
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = (
        InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    )

    class Photos(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.rows: Iterator[dict[str, Any]] = iter(
                {input_name: calibration[i : i + 1]} for i in range(len(calibration))
            )

        def get_next(self) -> dict[str, Any] | None:
            return next(self.rows, None)

    scratch = tempfile.TemporaryDirectory(prefix="img2img-int8-")
    prepared = Path(scratch.name) / "prepared.onnx"
    quiet = logging.getLogger()
    level, handlers = quiet.level, quiet.handlers[:]
    # The quantiser logs advice with logging.info(), which also installs a root handler
    # (logging.basicConfig) that would then print every later warning a second time.
    quiet.setLevel(logging.ERROR)
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(target),
            Photos(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=_QUANTISED_OPERATORS,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    except Exception as exc:  # the quantiser raises many kinds for graphs it cannot handle
        raise ModelUnavailableError(f"could not quantise {source}: {exc}") from exc
    finally:
        quiet.setLevel(level)
        for added in set(quiet.handlers) - set(handlers):
            quiet.removeHandler(added)
        scratch.cleanup()
