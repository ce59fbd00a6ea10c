"""ClipEmbedder: CLIP through open_clip, for images and text in one space.

CLIP places a photo, a drawing and a sentence about the same thing near each
other, which is what "alike in meaning" search needs (a silhouette on a poster
and the same landmark on a postcard), and what lets you search by words.

Two ways to run it:

- **an ONNX folder** (no torch): both towers and the tokenizer exported to
  ONNX, in the layout Immich publishes (:mod:`img2img.embedders.clip_onnx`):
  ``ClipEmbedder("ViT-B-32", pretrained="/models/ViT-B-32__laion2b")``. Write
  one from any open_clip checkpoint with
  :func:`img2img.embedders.clip_export.export_clip_folder` (``[torch]`` extra).
  The image tower runs with the route found fastest on the CPU at first use
  (:mod:`img2img.embedders.clip_routes`); an int8 copy of it, calibrated on
  the first pictures embedded, is made once and joins the routes
  (:mod:`img2img.embedders.clip_int8_auto`; ``int8="never"`` turns it off).
- **an open_clip checkpoint** (the ``[torch]`` extra): weights from the Hugging
  Face hub on first use, or a local file:
  ``ClipEmbedder("ViT-B-32", pretrained="/models/vit-b-32.safetensors")``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.embedders.batching import (
    Pixels,
    l2_normalise,
    prepare_and_run,
    prepare_pixels,
    run_batched,
)
from img2img.embedders.clip_int8_auto import Int8Mode, VisualTower, check_int8_mode
from img2img.embedders.clip_onnx import OnnxClip, is_onnx_folder
from img2img.embedders.clip_options import CLIP_OPTIONS, RECORDED_PREFIX, clip_from_options
from img2img.embedders.export import default_cache_dir
from img2img.embedders.runtime import (
    CompiledModel,
    Runtime,
    check_runtime,
    compile_model,
    probe_images,
    resolve_device,
    run_in_batches,
)
from img2img.embedders.stack import import_model_package
from img2img.errors import ConfigurationError, MissingDependencyError, ModelUnavailableError
from img2img.models import Vector
from img2img.options import OptionValues

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["ClipEmbedder"]

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
_HUB_FILENAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


#: Said when CLIP has neither an ONNX folder nor the packages to load a checkpoint.
NEEDS_A_MODEL = (
    "CLIP needs either an ONNX export of the model (pretrained='/path/to/folder' holding "
    "visual/model.onnx, textual/model.onnx and textual/tokenizer.json, as Immich publishes "
    "them; needs no torch) or the torch extra to load open_clip checkpoints: "
    "pip install 'img2img-search[torch]'"
)


def _import_open_clip() -> Any:
    try:
        return _import_open_clip_stack()
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{NEEDS_A_MODEL} ({exc})") from exc


def _import_open_clip_stack() -> Any:
    # torchvision first: a build that does not match torch fails there, and is what to repair.
    for module, package in (("torch", "torch"), ("torchvision", "torchvision")):
        import_model_package(
            module,
            package=package,
            needed_by="ClipEmbedder with an open_clip checkpoint",
            install="pip install 'img2img-search[torch]'",
        )
    return import_model_package(
        "open_clip",
        package="open_clip_torch",
        needed_by="ClipEmbedder with an open_clip checkpoint",
        install="pip install 'img2img-search[torch]'",
    )


def _is_path(pretrained: str) -> bool:
    return os.sep in pretrained or pretrained.endswith((".pt", ".pth", ".bin", ".safetensors"))


class ClipEmbedder:
    """A ``TextEmbedder`` backed by an open_clip model.

    Args:
        model_name: an open_clip architecture, e.g. ``"ViT-B-32"``, ``"ViT-L-14"``.
        pretrained: a folder holding an ONNX export (runs without torch), an
            open_clip tag (downloaded from the hub once), a path to a local
            checkpoint file, or ``None`` for random weights (tests only: seeded,
            so two instances agree). All but the folder need the ``[torch]`` extra.
        model_id: the name recorded in stores. Defaults to
            ``open_clip/<model_name>/<tag or file name>``; set it when two
            checkpoints share a file name.
        batch_size: images per forward pass.
        device: ``"auto"`` (CUDA, then Apple MPS, then CPU) or a torch device.
        runtime: how images are embedded. ``"auto"`` runs an exported copy of
            the image tower with OpenVINO, else ONNX Runtime with int8 weights,
            on a CPU (built once, cached on disk, checked against fp32 PyTorch);
            ``"torch"`` is exact fp32 PyTorch; ``"onnxruntime"`` and
            ``"openvino"`` ask for one. Text runs in PyTorch. With an ONNX
            folder, ``"auto"`` runs the image tower with the fastest of fp32
            ONNX Runtime, the folder's int8 tower and OpenVINO that keeps
            cosine 0.99 to fp32, timed on this CPU at first use and remembered
            (:mod:`~img2img.embedders.clip_routes`); text runs with ONNX Runtime.
        int8: with an ONNX folder and ``runtime="auto"``: ``"auto"`` uses the
            folder's int8 image tower, or makes one once from the first 32
            pictures embedded and keeps it in ``cache_dir`` (about a minute);
            ``"folder"`` uses only the folder's own; ``"never"`` runs fp32 only
            (:mod:`~img2img.embedders.clip_int8_auto`). Each int8 tower is used
            only where it keeps cosine 0.99 to fp32.
        cache_dir: where exported models are kept; defaults to
            ``$IMG2IMG_CACHE_DIR`` or ``~/.cache/img2img``.

    The model loads on the first call that needs it, not in ``__init__``.
    Neither ``device`` nor ``runtime`` changes ``model_id``: the vectors agree
    to a cosine of at least 0.99, so they share one store.
    """

    command_note = "the default: weights from the model hub, or a local checkpoint"
    command_options = CLIP_OPTIONS

    @classmethod
    def builds(cls, model_id: str) -> bool:
        """Whether ``model_id``, recorded by a store, is an open_clip model's."""
        return model_id.startswith(RECORDED_PREFIX)

    @classmethod
    def from_options(cls, values: OptionValues, *, recorded: str | None) -> ClipEmbedder:
        """The embedder ``--embedder clip`` builds; see :func:`~img2img.embedders.clip_options.clip_from_options`."""
        return clip_from_options(
            lambda model, pretrained: cls(
                model, pretrained=pretrained, int8=values.get("clip_int8") or "auto"
            ),
            values,
            recorded=recorded,
            default_model=DEFAULT_MODEL,
            default_pretrained=DEFAULT_PRETRAINED,
        )

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        pretrained: str | os.PathLike[str] | None = DEFAULT_PRETRAINED,
        *,
        model_id: str | None = None,
        batch_size: int = 16,
        device: str = "auto",
        runtime: Runtime = "auto",
        int8: Int8Mode = "auto",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError("batch_size must be at least 1")
        self.model_name = model_name
        self.pretrained = os.fspath(pretrained) if pretrained is not None else None
        self.batch_size = batch_size
        self.device = device
        self.runtime = check_runtime(runtime)
        self.int8 = check_int8_mode(int8)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self._compiled: CompiledModel | None = None
        if model_id is None:
            if self.pretrained is None:
                weights = "random"
            elif _is_path(self.pretrained):
                weights = Path(self.pretrained).name
            else:
                weights = self.pretrained
            model_id = f"open_clip/{model_name}/{weights}"
        self.model_id = model_id
        self._dimension: int | None = None
        self._loaded: tuple[Any, Any, Any] | None = None
        self._onnx: OnnxClip | None = None
        self._tower: VisualTower | None = None
        if self.pretrained is not None and is_onnx_folder(self.pretrained):
            self._onnx = OnnxClip(self.pretrained)
        self._lock = threading.Lock()
        self._compile_lock = threading.Lock()  # compiling calls _load, which takes _lock

    @property
    def dimension(self) -> int:
        if self._onnx is not None:
            return self._onnx.dimension
        if self._dimension is None:
            config = _import_open_clip().get_model_config(self.model_name)
            if config is None:
                raise ConfigurationError(f"open_clip has no model named {self.model_name!r}")
            self._dimension = int(config["embed_dim"])
        return self._dimension

    def cached_checkpoint(self) -> Path | None:
        """The local file the weights would load from without a download, if any.

        A path given as ``pretrained`` counts when it exists; a hub tag counts
        when the hub's cache already holds its file. Never touches the network.
        """
        if self.pretrained is None:
            return None
        if self._onnx is not None:
            return self._onnx.folder
        if _is_path(self.pretrained):
            path = Path(self.pretrained)
            return path if path.is_file() else None
        open_clip = _import_open_clip()
        config = open_clip.get_pretrained_cfg(self.model_name, self.pretrained) or {}
        if config.get("file"):
            file = Path(config["file"])
            return file if file.is_file() else None
        hub = str(config.get("hf_hub", ""))
        if not hub:
            return None
        from huggingface_hub import try_to_load_from_cache

        repo_id, filename = os.path.split(hub)
        for name in (filename,) if filename else _HUB_FILENAMES:
            found = try_to_load_from_cache(repo_id, name)
            if isinstance(found, str):
                return Path(found)
        return None

    def weights_available(self) -> bool:
        """True when loading needs no network: an ONNX folder, random weights or a
        cached/local checkpoint. False when a checkpoint would need the missing ``[torch]`` extra."""
        if self._onnx is not None:
            return True
        try:
            return self.pretrained is None or self.cached_checkpoint() is not None
        except MissingDependencyError:
            return False

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._build()
            return self._loaded

    def _build(self) -> tuple[Any, Any, Any]:
        open_clip = _import_open_clip()
        import torch

        device = resolve_device(self.device)
        if (
            self.pretrained is not None
            and _is_path(self.pretrained)
            and not Path(self.pretrained).is_file()
        ):
            raise ModelUnavailableError(f"CLIP checkpoint not found: {self.pretrained}")
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # random-weight models are reproducible
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.model_name, pretrained=self.pretrained, device=device
                )
        except Exception as exc:  # torch, pickle, safetensors and the hub each raise their own
            raise ModelUnavailableError(
                f"cannot load CLIP weights {self.model_name}/{self.pretrained}: {exc}. "
                "Without network access, download the checkpoint on another machine and pass "
                "its path: ClipEmbedder(model_name, pretrained='/path/to/open_clip_model.safetensors'), "
                "or use the offline EfficientNetEmbedder."
            ) from exc
        tokenizer = open_clip.get_tokenizer(self.model_name)
        return model.eval(), preprocess, tokenizer

    def _visual(self) -> CompiledModel:
        model, _, _ = self._load()
        with self._compile_lock:
            if self._compiled is None:
                import torch

                class Visual(torch.nn.Module):
                    def __init__(self, clip: torch.nn.Module) -> None:
                        super().__init__()
                        self.clip = clip

                    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                        features: torch.Tensor = self.clip.encode_image(pixels)  # type: ignore[operator]
                        return features

                probe = np.stack([self.prepare(image) for image in probe_images()])
                self._compiled = compile_model(
                    Visual(model),
                    model_id=self.model_id,
                    input_shape=(probe.shape[1], probe.shape[2], probe.shape[3]),
                    probe=probe,
                    runtime=self.runtime,
                    device=str(next(model.parameters()).device.type),
                    int8=True,
                    cache_dir=self.cache_dir or default_cache_dir(),
                )
            return self._compiled

    def _onnx_visual(self, onnx: OnnxClip) -> VisualTower:
        with self._compile_lock:
            if self._tower is None:
                self._tower = VisualTower(
                    onnx,
                    self.runtime,
                    self.int8,
                    self.cache_dir or default_cache_dir(),
                    batch_size=self.batch_size,
                )
            return self._tower

    @property
    def runtime_in_use(self) -> str:
        """What runs the image tower (``"onnxruntime"``, ``"onnxruntime-int8"``, ``"openvino"``,
        ``"torch"``, …); loads it."""
        if self._onnx is not None:
            return self._onnx_visual(self._onnx).route.name
        return self._visual().runtime

    def prepare(self, image: Image.Image) -> Pixels:
        """An image as the model's preprocessing makes it: float32 ``(3, size, size)``.

        Resize and crop as open_clip's own transform configures them, with
        Pillow and numpy, so it runs on any thread. Loads the model's
        configuration (the weights) on first use.
        """
        if self._onnx is not None:
            settings = self._onnx.preprocess
            return prepare_pixels(
                image, size=settings.size, mean=settings.mean, std=settings.std, fit="shortest"
            )
        config = self._load()[0].visual.preprocess_cfg
        size = config["size"]
        width, height = (size, size) if isinstance(size, int) else (size[1], size[0])
        if (
            config.get("resize_mode", "shortest") != "shortest"
            or config.get("interpolation", "bicubic") != "bicubic"
        ):
            preprocess = self._load()[1]
            pixels: Pixels = preprocess(image.convert("RGB")).numpy()
            return np.ascontiguousarray(pixels, dtype=np.float32)
        return prepare_pixels(
            image, size=(width, height), mean=config["mean"], std=config["std"], fit="shortest"
        )

    def embed_prepared(self, pixels: Sequence[Pixels]) -> Vector:
        """Embed outputs of :meth:`prepare`; returns float32 ``(len(pixels), dimension)`` unit rows."""
        if not len(pixels):
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            forward = self._onnx_visual(self._onnx).forward
            return l2_normalise(run_in_batches(forward, pixels, self.batch_size))
        compiled = self._visual()
        return l2_normalise(run_in_batches(compiled.forward, pixels, self.batch_size))

    def embed_images(self, images: Sequence[Image.Image]) -> Vector:
        """Embed RGB images; returns float32 ``(len(images), dimension)`` unit rows."""
        if not images:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            forward = self._onnx_visual(self._onnx).forward
            return l2_normalise(prepare_and_run(images, self.prepare, forward, self.batch_size))
        return self.embed_prepared([self.prepare(image) for image in images])

    def embed_texts(self, texts: Sequence[str]) -> Vector:
        """Embed texts into the image space; returns float32 ``(len(texts), dimension)`` unit rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            onnx = self._onnx
            rows = [
                onnx.embed_texts(texts[start : start + self.batch_size])
                for start in range(0, len(texts), self.batch_size)
            ]
            return l2_normalise(np.concatenate(rows))
        model, _, tokenizer = self._load()
        return run_batched(
            list(texts),
            batch_size=self.batch_size,
            dimension=self.dimension,
            to_tensor=lambda batch: tokenizer(list(batch)).to(next(model.parameters()).device),
            forward=model.encode_text,
        )

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write the loaded model's weights to ``path`` (loadable as ``pretrained=path``)."""
        model, _, _ = self._load()
        import torch

        target = Path(path)
        torch.save(model.state_dict(), target)
        return target
