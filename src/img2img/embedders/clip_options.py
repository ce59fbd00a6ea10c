"""How the ``img2img`` command builds CLIP: its options, and a fast failure when offline.

``open_clip/MODEL/TAG`` is CLIP with hub weights ``TAG``; ``open_clip/MODEL/FILE``
is CLIP from a local checkpoint, given again with ``--clip-checkpoint PATH``.
CLIP weights come from the model hub. When they are not on this machine and
the hub cannot be reached, the command fails at once with the two ways out
rather than retrying downloads.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar, cast
from urllib.parse import urlsplit

from img2img.errors import ConfigurationError, EmbeddingSpaceMismatchError, ModelUnavailableError
from img2img.options import Option, OptionValues


class _Clip(Protocol):
    """What this module needs of a ``ClipEmbedder`` (it does not import the adapter)."""

    model_id: str
    pretrained: str | None

    def weights_available(self) -> bool: ...


ClipT = TypeVar("ClipT", bound=_Clip)

__all__ = ["CLIP_OPTIONS", "RECORDED_PREFIX", "clip_from_options", "clip_offline_advice"]

#: Model ids of CLIP embedders start with this.
RECORDED_PREFIX = "open_clip/"
CLIP_OPTIONS = (
    Option("clip-model", "open_clip architecture (ViT-B-32)", metavar="NAME"),
    Option(
        "clip-pretrained",
        "open_clip weights tag from the model hub (laion2b_s34b_b79k)",
        metavar="TAG",
    ),
    Option(
        "clip-checkpoint",
        "a local open_clip checkpoint file, or a CLIP ONNX folder (runs without torch)",
        metavar="PATH",
    ),
    Option(
        "clip-int8",
        "with an ONNX folder: auto (default) makes an int8 image tower once from the first "
        "32 pictures and uses it where it keeps cosine 0.99; folder uses only the folder's "
        "own; never runs fp32 only",
        metavar="MODE",
        choices=("auto", "folder", "never"),
    ),
)
_CHECKPOINT_ENDINGS = (".pt", ".pth", ".bin", ".safetensors")
#: Names open_clip gives weight files on the hub (and the safetensors forms it prefers).
_HUB_WEIGHT_FILES = frozenset(
    {
        "open_clip_pytorch_model.bin",
        "open_clip_model.safetensors",
        "pytorch_model.bin",
        "model.safetensors",
    }
)
_PROBE_SECONDS = 1.5


def clip_offline_advice(model_id: str) -> str:
    """The one line said when CLIP weights cannot be had."""
    return (
        f"CLIP weights {model_id} are not on this machine and the model hub cannot be reached; "
        "use --embedder efficientnet (offline, installed with img2img) or "
        "--clip-checkpoint PATH (an open_clip checkpoint file)"
    )


def _hub_cache_may_hold_weights() -> bool:
    """False only when no open_clip weight file is in the hub cache at all.

    A quick necessary condition, checked without importing torch: the exact
    check (:meth:`ClipEmbedder.weights_available`) imports open_clip, which
    takes seconds.
    """
    from huggingface_hub.constants import HF_HUB_CACHE

    cache = Path(HF_HUB_CACHE)
    if not cache.is_dir():
        return False
    return any(file.name in _HUB_WEIGHT_FILES for file in cache.glob("models--*/snapshots/*/*"))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable() -> bool:
    """Whether a TCP connection to the hub opens within 1.5 s (name lookup included)."""
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE"):
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    reached: list[bool] = []

    def probe() -> None:  # in a thread: a name lookup has no timeout of its own
        try:
            socket.create_connection((host, port), timeout=_PROBE_SECONDS).close()
            reached.append(True)
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(_PROBE_SECONDS)
    return bool(reached)


def _check_clip_weights(clip: _Clip) -> None:
    """Fail fast, in one line, when loading ``clip`` would need an unreachable hub."""
    pretrained = clip.pretrained
    if pretrained is None:
        return
    if pretrained.endswith(_CHECKPOINT_ENDINGS) or os.sep in pretrained:
        from img2img.embedders.clip_onnx import is_onnx_folder

        if not Path(pretrained).is_file() and not is_onnx_folder(pretrained):
            raise ModelUnavailableError(
                f"--clip-checkpoint {pretrained}: no such file or CLIP ONNX folder"
            )
        return
    if _hub_cache_may_hold_weights() and clip.weights_available():
        return
    if not _hub_reachable():
        raise ModelUnavailableError(clip_offline_advice(clip.model_id))


def clip_from_options(
    build: Callable[[str, str | None], ClipT],
    values: OptionValues,
    *,
    recorded: str | None,
    default_model: str,
    default_pretrained: str,
) -> ClipT:
    """The CLIP embedder the options make, for a store that holds ``recorded`` (or a new one).

    Raises :class:`~img2img.errors.EmbeddingSpaceMismatchError` when the options
    make another model than ``recorded``, and
    :class:`~img2img.errors.ModelUnavailableError` at once when the weights
    cannot be had (no such checkpoint file; hub weights neither cached nor reachable).
    ``build(model, pretrained)`` makes the embedder.
    """
    model, weights = "", cast("str | None", None)
    if recorded is not None:
        model, _, weights = recorded.removeprefix(RECORDED_PREFIX).rpartition("/")
        if not model or not weights:
            raise ConfigurationError(f"{recorded!r} does not name an open_clip model")
    checkpoint = values.get("clip_checkpoint")
    model = values.get("clip_model") or model or default_model
    pretrained: str | None = checkpoint or values.get("clip_pretrained") or weights
    if pretrained is None and recorded is None:
        pretrained = default_pretrained
    if pretrained == "random" and recorded is not None:
        pretrained = None  # a store made with random weights (tests): seeded, so rebuildable
    if (
        recorded is not None
        and checkpoint is None
        and pretrained is not None
        and pretrained.endswith(_CHECKPOINT_ENDINGS)
    ):
        raise ConfigurationError(
            f"this store was built with CLIP from the checkpoint file {pretrained}; "
            "give its path with --clip-checkpoint PATH"
        )
    clip = build(model, pretrained)
    if recorded is not None and clip.model_id != recorded:
        raise EmbeddingSpaceMismatchError(
            f"this store holds vectors of {recorded}; the options given make {clip.model_id}. "
            "Leave out the embedder options to use the store's model, or use another --store"
        )
    _check_clip_weights(clip)
    return clip
