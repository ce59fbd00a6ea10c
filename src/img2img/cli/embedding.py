"""Which embedder a command uses: the one the store was built with, unless told.

A store records the model id of its vectors (``EmbeddingSpace``). From it the
command rebuilds the same embedder, so ``--embedder`` is needed only when a
store is created. Model ids the command knows how to rebuild:

- ``efficientnet-lite0/imagenet``: :class:`~img2img.embedders.efficientnet.EfficientNetEmbedder`;
- ``open_clip/MODEL/TAG``: CLIP with hub weights ``TAG``;
- ``open_clip/MODEL/FILE``: CLIP from a local checkpoint: ``--clip-checkpoint PATH``;
- ``hash/DIM/seed-N``: the test embedder :class:`~img2img.embedders.hashing.HashEmbedder`.

CLIP weights come from the model hub. When they are not on this machine and
the hub cannot be reached, the command fails at once with the two ways out
rather than retrying downloads.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from img2img.errors import ConfigurationError, EmbeddingSpaceMismatchError, ModelUnavailableError

if TYPE_CHECKING:
    from img2img.embedders.clip import ClipEmbedder
    from img2img.models import EmbeddingSpace
    from img2img.protocols import Embedder

__all__ = ["EMBEDDERS", "EmbedderChoice", "choose_embedder", "clip_offline_advice"]

EMBEDDERS = ("clip", "efficientnet")
_EFFICIENTNET_ID = "efficientnet-lite0/imagenet"
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


@dataclass(frozen=True)
class EmbedderChoice:
    """The embedder flags as given on the command line; ``None`` where not given."""

    embedder: str | None = None
    clip_model: str | None = None
    clip_pretrained: str | None = None
    clip_checkpoint: str | None = None

    @property
    def explicit(self) -> bool:
        return any(
            value is not None
            for value in (
                self.embedder,
                self.clip_model,
                self.clip_pretrained,
                self.clip_checkpoint,
            )
        )


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


def _check_clip_weights(clip: ClipEmbedder) -> None:
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


def _parse_recorded(model_id: str) -> tuple[str, str | None, str | None]:
    """``(kind, clip model, clip weights)`` of a recorded model id."""
    if model_id == _EFFICIENTNET_ID:
        return "efficientnet", None, None
    if model_id.startswith("hash/"):
        return "hash", None, None
    if model_id.startswith("open_clip/"):
        model, _, weights = model_id.removeprefix("open_clip/").rpartition("/")
        if model and weights:
            return "clip", model, weights
    raise ConfigurationError(
        f"this store holds vectors of {model_id}, a model the command cannot build; "
        "use it from Python with that embedder"
    )


def _hash_embedder(model_id: str) -> Embedder:
    from img2img.embedders.hashing import HashEmbedder

    try:
        _, dimension, seed = model_id.split("/")
        return HashEmbedder(int(dimension), seed=int(seed.removeprefix("seed-")))
    except ValueError as exc:
        raise ConfigurationError(f"cannot rebuild the embedder {model_id!r}") from exc


def _clip(
    model: str, weights: str | None, choice: EmbedderChoice, recorded: str | None
) -> Embedder:
    from img2img.embedders.clip import DEFAULT_MODEL, DEFAULT_PRETRAINED, ClipEmbedder

    model = choice.clip_model or model or DEFAULT_MODEL
    pretrained: str | None = choice.clip_checkpoint or choice.clip_pretrained or weights
    if pretrained is None and recorded is None:
        pretrained = DEFAULT_PRETRAINED
    if pretrained == "random" and recorded is not None:
        pretrained = None  # a store made with random weights (tests): seeded, so rebuildable
    if (
        recorded is not None
        and choice.clip_checkpoint is None
        and pretrained is not None
        and pretrained.endswith(_CHECKPOINT_ENDINGS)
    ):
        raise ConfigurationError(
            f"this store was built with CLIP from the checkpoint file {pretrained}; "
            "give its path with --clip-checkpoint PATH"
        )
    clip = ClipEmbedder(model, pretrained=pretrained)
    if recorded is not None and clip.model_id != recorded:
        raise EmbeddingSpaceMismatchError(
            f"this store holds vectors of {recorded}; the options given make {clip.model_id}. "
            "Leave out the embedder options to use the store's model, or use another --store"
        )
    _check_clip_weights(clip)
    return clip


def choose_embedder(choice: EmbedderChoice, recorded: EmbeddingSpace | None) -> Embedder:
    """The embedder for a store that recorded ``recorded`` (``None``: a new store).

    Options in ``choice`` win for a new store; for one with vectors they must
    agree with the recorded model. Raises
    :class:`~img2img.errors.EmbeddingSpaceMismatchError` when they do not,
    :class:`~img2img.errors.ModelUnavailableError` when CLIP weights cannot be had.
    """
    if recorded is None:
        kind = choice.embedder or "clip"
        if kind == "efficientnet":
            if choice.clip_checkpoint or choice.clip_model or choice.clip_pretrained:
                raise ConfigurationError("--clip-* options apply to --embedder clip only")
            from img2img.embedders.efficientnet import EfficientNetEmbedder

            return EfficientNetEmbedder()
        return _clip("", None, choice, None)
    kind, model, weights = _parse_recorded(recorded.model_id)
    wanted = choice.embedder or ("clip" if choice.explicit else kind)
    if wanted != kind:
        raise EmbeddingSpaceMismatchError(
            f"this store holds vectors of {recorded.model_id}; --embedder {wanted} would make "
            "others. Leave out --embedder to use the store's model, or use another --store"
        )
    if kind == "efficientnet":
        from img2img.embedders.efficientnet import EfficientNetEmbedder

        return EfficientNetEmbedder()
    if kind == "hash":
        return _hash_embedder(recorded.model_id)
    return _clip(model or "", weights, choice, recorded.model_id)
