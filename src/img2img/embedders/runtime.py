"""Fast inference shared by the torch-based embedders: device, runtime, threads, quality gate.

On a CPU an embedder's network runs fastest outside eager PyTorch. Measured on
a 2-core AVX-512 CPU (``benchmarks/embedder_speed.py``, docs/performance.md):
OpenVINO, at bfloat16 where the CPU has it, ran EfficientNet-Lite0 and
ViT-B-32 two to three times as fast as eager PyTorch; ONNX Runtime ran
ViT-B-32 with dynamic int8 weights about 1.5x its own fp32. So on a CPU,
``runtime="auto"`` exports the model to ONNX once (cached on disk, see
:mod:`img2img.embedders.export`) and runs it with OpenVINO, else ONNX Runtime.
On a GPU it runs PyTorch on the GPU. ``runtime="torch"`` is exact fp32.

Every compiled model must agree with eager fp32 PyTorch on a few probe images
(cosine at least :data:`MIN_COSINE`) before it is used; a cached export that
does not is built again, and under ``"auto"`` a runtime that still does not is
passed over for the next.

Threads are set on purpose: each runtime keeps its own pool, and two pools
spinning on two cores slow each other (and the threads decoding images) down, so the
ONNX Runtime pool is told not to spin while idle and OpenVINO not to pin cores.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from img2img.cores import available_cores
from img2img.embedders.export import ExportSpec, exported_model, weights_digest
from img2img.embedders.stack import import_model_package
from img2img.errors import ConfigurationError, MissingDependencyError, ModelUnavailableError

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = [
    "MIN_COSINE",
    "CompiledModel",
    "Forward",
    "Runtime",
    "check_runtime",
    "compile_model",
    "onnxruntime_forward",
    "openvino_forward",
    "probe_images",
    "resolve_device",
]

logger = logging.getLogger("img2img")

#: ``"auto"``: the fastest that passes the quality gate; ``"torch"``: eager fp32 PyTorch.
Runtime = Literal["auto", "torch", "onnxruntime", "openvino"]
#: The least cosine a compiled model may have to eager fp32 PyTorch on the probe images.
MIN_COSINE = 0.99
#: float32 ``(n, channels, height, width)`` in, float32 ``(n, dim)`` out (not normalised).
Forward = Callable[[np.ndarray[Any, np.dtype[np.float32]]], np.ndarray[Any, np.dtype[np.float32]]]


def check_runtime(runtime: str) -> Runtime:
    """``runtime`` if it names one; raises :class:`ConfigurationError` otherwise."""
    if runtime not in get_args(Runtime):
        raise ConfigurationError(
            f"unknown runtime {runtime!r}; choose one of {', '.join(get_args(Runtime))}"
        )
    return runtime  # type: ignore[return-value]


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a CUDA GPU is usable, else ``"mps"``, else ``"cpu"``."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def probe_images() -> list[Image.Image]:
    """Four small synthetic pictures (gradients, shapes, texture) for the quality gate."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    size = 256
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    images = []
    for index in range(4):
        red = np.add.outer(ramp, ramp[::-1]) / 2
        green = np.roll(red, 64 * index, axis=index % 2)
        blue = 255 * (0.5 + 0.5 * np.sin(np.add.outer(ramp, ramp) / (20 + 15 * index)))
        pixels = np.stack([red, green, blue], axis=-1)
        pixels += rng.normal(0, 12, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y, r = (int(v) for v in rng.integers(20, 236, 3))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.ellipse((x - r // 3, y - r // 4, x + r // 3, y + r // 4), fill=colour)
        images.append(image)
    return images


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """A network ready to run: ``runtime`` names what runs it, ``cosine`` its probe agreement."""

    runtime: str
    forward: Forward
    cosine: float = 1.0


def torch_forward(module: torch.nn.Module, device: str, *, channels_last: bool = False) -> Forward:
    """Eager PyTorch under ``inference_mode`` on ``device``."""
    import torch

    layout = torch.channels_last if channels_last else torch.contiguous_format
    try:
        module = module.to(device).to(memory_format=layout).eval()
    except (RuntimeError, AssertionError) as exc:  # torch's words for "no such device here"
        raise ConfigurationError(f"device {device!r} cannot be used: {exc}") from exc

    def forward(
        batch: np.ndarray[Any, np.dtype[np.float32]],
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(device=device, memory_format=layout)
            result: np.ndarray[Any, np.dtype[np.float32]] = module(tensor).float().cpu().numpy()
            return result

    return forward


def onnxruntime_forward(path: Path, threads: int) -> Forward:
    onnxruntime = import_model_package(
        "onnxruntime", package="onnxruntime", needed_by="this runtime"
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # An idle pool that spins holds a core the threads decoding images need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ONNX Runtime raises its own unnamed C++ exception types
        raise ModelUnavailableError(f"ONNX Runtime cannot load {path}: {exc}") from exc

    def forward(
        batch: np.ndarray[Any, np.dtype[np.float32]],
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        try:
            output = session.run(None, {"pixels": np.ascontiguousarray(batch)})[0]
        except Exception as exc:  # prepared pixels are always well formed: the runtime is at fault
            raise ModelUnavailableError(
                f"ONNX Runtime failed running {path.name} ({exc}); "
                "repair it with: pip install --force-reinstall onnxruntime"
            ) from exc
        return np.asarray(output, dtype=np.float32)

    return forward


def openvino_forward(path: Path, threads: int, cache_dir: Path) -> Forward:
    openvino = import_model_package(
        "openvino",
        package="openvino",
        needed_by="runtime='openvino'",
        install="pip install 'img2img-search[openvino]'",
    )
    try:
        core = openvino.Core()
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if "BF16" in capabilities else "f32",
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,  # pinned threads fight the threads decoding images
            "CACHE_DIR": str(cache_dir / "openvino"),
        }
        compiled = core.compile_model(str(path), "CPU", config)
        request = compiled.create_infer_request()
    except Exception as exc:  # OpenVINO raises RuntimeError and its own C++ types
        raise ModelUnavailableError(f"OpenVINO cannot compile {path}: {exc}") from exc
    lock = threading.Lock()  # one infer request serves one caller at a time

    def forward(
        batch: np.ndarray[Any, np.dtype[np.float32]],
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        with lock:
            output = request.infer({0: np.ascontiguousarray(batch)})[0]
            return np.array(output, dtype=np.float32)

    return forward


def _cosines(
    a: np.ndarray[Any, np.dtype[np.float32]], b: np.ndarray[Any, np.dtype[np.float32]]
) -> float:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    quantize: bool


def _plans(runtime: Runtime, int8: bool, prefer: Sequence[str]) -> list[_Plan]:
    plans = {
        "onnxruntime": _Plan("onnxruntime-int8" if int8 else "onnxruntime", int8),
        "openvino": _Plan("openvino", False),
    }
    if runtime in plans:
        return [plans[runtime]]
    return [plans[name] for name in prefer]


def compile_model(
    module: torch.nn.Module,
    *,
    model_id: str,
    input_shape: tuple[int, int, int],
    probe: np.ndarray[Any, np.dtype[np.float32]],
    runtime: Runtime = "auto",
    device: str = "cpu",
    int8: bool = False,
    prefer: Sequence[str] = ("openvino", "onnxruntime"),
    cache_dir: Path,
    channels_last: bool = False,
) -> CompiledModel:
    """Ready ``module`` (float32 ``(n, *input_shape)`` -> ``(n, dim)``) to run fast.

    ``probe`` is float32 ``(k, *input_shape)``: what every compiled model must
    embed like eager fp32 PyTorch. ``int8`` asks ONNX Runtime for dynamic int8
    weights (only where that was measured to keep quality). ``prefer`` orders
    the runtimes ``"auto"`` tries, fastest first as measured for the model. Raises
    :class:`ModelUnavailableError` or :class:`MissingDependencyError` when an
    explicitly requested runtime cannot be used; ``"auto"`` falls back instead.
    """
    if runtime == "torch" or device != "cpu":
        if runtime not in ("torch", "auto"):
            raise ConfigurationError(f"runtime {runtime!r} runs on the CPU only, not {device!r}")
        return CompiledModel("torch", torch_forward(module, device, channels_last=channels_last))
    reference = torch_forward(module, "cpu")(probe)
    digest = weights_digest(module)
    threads = available_cores()
    for plan in _plans(runtime, int8, prefer):
        spec = ExportSpec(model_id, digest, input_shape, quantize=plan.quantize)
        try:
            compiled = _compile_checked(module, spec, plan, probe, reference, threads, cache_dir)
        except (MissingDependencyError, ModelUnavailableError) as exc:
            if runtime != "auto":
                raise
            logger.info(
                "img2img: %s unusable for %s, trying the next: %s", plan.name, model_id, exc
            )
            continue
        return compiled
    return CompiledModel("torch", torch_forward(module, "cpu", channels_last=channels_last))


def _compile_checked(
    module: torch.nn.Module,
    spec: ExportSpec,
    plan: _Plan,
    probe: np.ndarray[Any, np.dtype[np.float32]],
    reference: np.ndarray[Any, np.dtype[np.float32]],
    threads: int,
    cache_dir: Path,
) -> CompiledModel:
    """Load the cached export, or build it; a cache that fails to load or to agree is rebuilt once."""
    problem = ""
    for rebuild in (False, True):
        try:
            path = exported_model(module, spec, cache_dir, rebuild=rebuild)
            if plan.name == "openvino":
                forward = openvino_forward(path, threads, cache_dir)
            else:
                forward = onnxruntime_forward(path, threads)
            cosine = _cosines(forward(probe), reference)
        except ModelUnavailableError as exc:
            problem = str(exc)
            continue
        if cosine >= MIN_COSINE:
            return CompiledModel(plan.name, forward, cosine)
        problem = f"cosine {cosine:.4f} to fp32 PyTorch is under {MIN_COSINE}"
    raise ModelUnavailableError(f"{plan.name} failed for {spec.model_id}: {problem}")


def run_in_batches(
    forward: Forward, pixels: Sequence[np.ndarray[Any, np.dtype[np.float32]]], batch_size: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``forward`` over ``pixels`` (each float32 ``(C, H, W)``) in batches; ``(n, dim)`` rows."""
    outputs = [
        forward(np.stack(pixels[start : start + batch_size]))
        for start in range(0, len(pixels), batch_size)
    ]
    return np.concatenate(outputs)
