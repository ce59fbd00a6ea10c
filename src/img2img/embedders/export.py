"""Exported models cached on disk: built once per model and weights, rebuilt when broken.

A torch model is exported to ONNX (and, where asked, quantised to dynamic int8)
into ``<cache>/<model id>/<weights digest>/``. ``meta.json`` is written last, so
a folder without it, or whose ``meta.json`` names other weights or another
format, is an unfinished or stale build and is built again. A file that then
fails to load is the caller's cue to call :func:`exported_model` with
``rebuild=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from img2img.errors import MissingDependencyError, ModelUnavailableError

if TYPE_CHECKING:
    import torch

__all__ = ["ExportSpec", "default_cache_dir", "exported_model", "weights_digest"]

#: Bumped when the export recipe changes, so old builds are not reused.
EXPORT_FORMAT = 1
_META = "meta.json"


def default_cache_dir() -> Path:
    """``$IMG2IMG_CACHE_DIR``, else ``$XDG_CACHE_HOME/img2img``, else ``~/.cache/img2img``."""
    explicit = os.environ.get("IMG2IMG_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "img2img"


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes and bytes), hex."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)};".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """What identifies one exported model: ``input_shape`` is ``(channels, height, width)``."""

    model_id: str
    weights: str
    input_shape: tuple[int, int, int]
    quantize: bool = False

    @property
    def folder_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.model_id).strip("_") or "model"

    @property
    def file_name(self) -> str:
        return "model.int8.onnx" if self.quantize else "model.onnx"


def _meta_of(spec: ExportSpec) -> dict[str, Any]:
    return {**asdict(spec), "input_shape": list(spec.input_shape), "format": EXPORT_FORMAT}


def _is_complete(folder: Path, spec: ExportSpec) -> bool:
    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta == _meta_of(spec) and (folder / spec.file_name).is_file())


def exported_model(
    module: torch.nn.Module,
    spec: ExportSpec,
    cache_dir: Path,
    *,
    rebuild: bool = False,
) -> Path:
    """The path of ``module`` exported to ONNX for ``spec``, building it if not cached.

    ``module`` maps float32 ``(n, *input_shape)`` to float32 ``(n, dim)``; the
    batch axis stays dynamic. Raises :class:`MissingDependencyError` without
    the ``onnx`` packages and :class:`ModelUnavailableError` when the export fails.
    """
    folder = cache_dir / spec.folder_name / f"{spec.weights[:24]}-{spec.file_name[:-5]}"
    if not rebuild and _is_complete(folder, spec):
        return folder / spec.file_name
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed into place, so a crash or a second
    # process never leaves a half-written model where a reader would take it.
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        fp32 = staging / "model.onnx"
        _export(module, spec.input_shape, fp32)
        if spec.quantize:
            _quantize(fp32, staging / spec.file_name)
            fp32.unlink()
        (staging / _META).write_text(json.dumps(_meta_of(spec)), encoding="utf-8")
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process finished the same build first
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _is_complete(folder, spec):
        raise ModelUnavailableError(f"could not write the exported model to {folder}")
    return folder / spec.file_name


def _export(module: torch.nn.Module, input_shape: tuple[int, int, int], target: Path) -> None:
    import torch

    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            # Grad stays on: without it attention takes a fused path ONNX has no operator for.
            # The TorchScript-based exporter writes one self-contained file and
            # handles the models here; the dynamo exporter needs onnxscript.
            torch.onnx.export(
                module.eval(),
                (example,),
                str(target),
                input_names=["pixels"],
                output_names=["features"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
    except ImportError as exc:
        raise MissingDependencyError("exporting a model needs onnx: pip install onnx") from exc
    except Exception as exc:  # the exporter raises many kinds for unsupported operators
        raise ModelUnavailableError(f"could not export the model to ONNX: {exc}") from exc


def _quantize(source: Path, target: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise MissingDependencyError(
            "int8 models need onnxruntime: pip install onnxruntime"
        ) from exc
    import logging

    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the quantiser logs advice about pre-processing to root
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    except Exception as exc:
        raise ModelUnavailableError(f"could not quantise the model: {exc}") from exc
    finally:
        quiet.setLevel(level)
