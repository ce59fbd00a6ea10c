"""CLIP from a folder of ONNX files: both towers and the tokenizer, no torch.

The folder has the layout Immich publishes its open_clip exports in (and
:func:`img2img.embedders.clip_export.export_clip_folder` writes)::

    config.json                 the open_clip model config (embed_dim, vision_cfg, text_cfg)
    visual/model.onnx           image (batch, 3, size, size) float32 -> embedding (batch, dim)
    visual/preprocess_cfg.json  size, mean, std, interpolation, resize_mode
    textual/model.onnx          text (batch, context_length) int32 or int64 -> embedding (batch, dim)
    textual/tokenizer.json      CLIP's byte-level BPE for the ``tokenizers`` package
    textual/tokenizer_config.json  pad_token (optional)

Models exported with a fixed batch of one run one row at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from img2img.cores import available_cores
from img2img.embedders.stack import import_model_package
from img2img.errors import ModelUnavailableError

__all__ = ["OnnxClip", "Tower", "is_onnx_folder"]

_INT_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64}


def is_onnx_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a CLIP export (``visual/model.onnx`` at least)."""
    folder = Path(path)
    return folder.is_dir() and (folder / "visual" / "model.onnx").is_file()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ModelUnavailableError(f"{path} does not hold a JSON object")
    return loaded


@dataclass(frozen=True)
class Preprocess:
    """How images are prepared for the visual tower."""

    size: tuple[int, int]  # (width, height)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class Tower:
    """One ONNX Runtime session; rows run one at a time when the batch axis is fixed."""

    def __init__(self, path: Path) -> None:
        onnxruntime = import_model_package(
            "onnxruntime", package="onnxruntime", needed_by="ClipEmbedder"
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = available_cores()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime raises its own unnamed C++ exception types
            raise ModelUnavailableError(f"ONNX Runtime cannot load {path}: {exc}") from exc
        (source,) = self.session.get_inputs()
        self.input = source.name
        self.input_type = source.type
        self.fixed_batch = source.shape[0] == 1
        self.path = path

    def run(self, batch: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
        try:
            if self.fixed_batch and len(batch) != 1:
                rows = [
                    self.session.run(None, {self.input: batch[i : i + 1]})[0]
                    for i in range(len(batch))
                ]
                return np.concatenate(rows).astype(np.float32)
            return np.asarray(self.session.run(None, {self.input: batch})[0], dtype=np.float32)
        except Exception as exc:  # inputs are always well formed: the runtime is at fault
            raise ModelUnavailableError(f"ONNX Runtime failed running {self.path}: {exc}") from exc


class OnnxClip:
    """A CLIP export on disk; each tower and the tokenizer load on first use."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not is_onnx_folder(self.folder):
            raise ModelUnavailableError(
                f"{self.folder} is not a CLIP ONNX folder (it needs visual/model.onnx)"
            )
        self.config = _read_json(self.folder / "config.json")
        try:
            self.dimension = int(self.config["embed_dim"])
            self.context_length = int(self.config.get("text_cfg", {}).get("context_length", 77))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelUnavailableError(f"{self.folder}/config.json lacks embed_dim") from exc
        self.preprocess = self._preprocess()
        self._visual: Tower | None = None
        self._textual: Tower | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _preprocess(self) -> Preprocess:
        path = self.folder / "visual" / "preprocess_cfg.json"
        config = _read_json(path) if path.is_file() else {}
        vision = self.config.get("vision_cfg", {})
        size = config.get("size", vision.get("image_size", 224))
        width, height = (size, size) if isinstance(size, int) else (size[1], size[0])
        mean_r, mean_g, mean_b = config.get("mean", (0.48145466, 0.4578275, 0.40821073))
        std_r, std_g, std_b = config.get("std", (0.26862954, 0.26130258, 0.27577711))
        mean = (float(mean_r), float(mean_g), float(mean_b))
        std = (float(std_r), float(std_g), float(std_b))
        if (
            config.get("resize_mode", "shortest") != "shortest"
            or config.get("interpolation", "bicubic") != "bicubic"
        ):
            raise ModelUnavailableError(
                f"{path}: only bicubic resizing of the shortest side is supported"
            )
        return Preprocess((int(width), int(height)), mean, std)

    def embed_pixels(
        self, pixels: np.ndarray[Any, np.dtype[np.float32]]
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """float32 ``(n, 3, height, width)`` prepared pixels -> ``(n, dim)``, not normalised."""
        with self._lock:
            if self._visual is None:
                self._visual = Tower(self.folder / "visual" / "model.onnx")
        return self._visual.run(np.ascontiguousarray(pixels, dtype=np.float32))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """``(len(texts), dim)`` text embeddings, not normalised."""
        with self._lock:
            if self._textual is None:
                path = self.folder / "textual" / "model.onnx"
                if not path.is_file():
                    raise ModelUnavailableError(f"{self.folder} has no text tower ({path})")
                self._textual = Tower(path)
                self._tokenizer = self._load_tokenizer()
        encodings = self._tokenizer.encode_batch(list(texts))
        dtype = _INT_TYPES.get(self._textual.input_type, np.int64)
        tokens = np.array([encoding.ids for encoding in encodings], dtype=dtype)
        return self._textual.run(tokens)

    def _load_tokenizer(self) -> Any:
        tokenizers = import_model_package(
            "tokenizers", package="tokenizers", needed_by="CLIP text search"
        )
        path = self.folder / "textual" / "tokenizer.json"
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises plain Exception subclasses
            raise ModelUnavailableError(f"cannot read the tokenizer {path}: {exc}") from exc
        settings = self.folder / "textual" / "tokenizer_config.json"
        pad_token = _read_json(settings).get("pad_token") if settings.is_file() else None
        if isinstance(pad_token, dict):  # written as an AddedToken by some versions
            pad_token = pad_token.get("content")
        pad_id = tokenizer.token_to_id(pad_token) if isinstance(pad_token, str) else None
        tokenizer.enable_truncation(max_length=self.context_length)
        tokenizer.enable_padding(
            length=self.context_length,
            pad_id=pad_id or 0,
            pad_token=pad_token if pad_id is not None else "<pad>",
        )
        return tokenizer
