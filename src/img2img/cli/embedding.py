"""Which embedder a command uses: the one the store was built with, unless told.

A store records the model id of its vectors (``EmbeddingSpace``). The command
asks each installed embedder (the ``img2img.embedders`` entry points) whether
it ``builds`` that id, and rebuilds the same model, so ``--embedder`` is needed
only when a store is created. Each embedder's own options (``--clip-model`` …)
come from its class (:mod:`img2img.options`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from img2img.cli.adapter_options import AdapterOptions
from img2img.errors import ConfigurationError, EmbeddingSpaceMismatchError

if TYPE_CHECKING:
    from img2img.models import EmbeddingSpace
    from img2img.protocols import Embedder

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDER_OPTIONS", "choose_embedder"]

DEFAULT_EMBEDDER = "clip"
#: ``--embedder`` and the options of every installed embedder.
EMBEDDER_OPTIONS = AdapterOptions("embedder", "--embedder", default=DEFAULT_EMBEDDER)


def _builders(model_id: str) -> list[str]:
    """The installed embedders that can rebuild ``model_id``."""
    return [
        name
        for name, adapter in EMBEDDER_OPTIONS.adapters().items()
        if callable(getattr(adapter, "builds", None)) and adapter.builds(model_id)
    ]


def choose_embedder(args: argparse.Namespace, recorded: EmbeddingSpace | None) -> Embedder:
    """The embedder for a store that recorded ``recorded`` (``None``: a new store).

    Options in ``args`` win for a new store; for one with vectors they must
    agree with the recorded model. Raises
    :class:`~img2img.errors.EmbeddingSpaceMismatchError` when they do not, and
    what the embedder raises when it cannot be built (``ModelUnavailableError``).
    """
    if recorded is None:
        _, adapter, values = EMBEDDER_OPTIONS.chosen(args)
        built: Any = adapter.from_options(values, recorded=None)
        return built  # type: ignore[no-any-return]
    model_id = recorded.model_id
    builders = _builders(model_id)
    if not builders:
        raise ConfigurationError(
            f"this store holds vectors of {model_id}, a model the command cannot build; "
            "use it from Python with that embedder"
        )
    wanted = getattr(args, EMBEDDER_OPTIONS.dest, None)
    if wanted is not None and wanted not in builders:
        raise EmbeddingSpaceMismatchError(
            f"this store holds vectors of {model_id}; --embedder {wanted} would make "
            "others. Leave out --embedder to use the store's model, or use another --store"
        )
    _, adapter, values = EMBEDDER_OPTIONS.chosen(args, name=wanted or builders[0])
    rebuilt: Any = adapter.from_options(values, recorded=model_id)
    return rebuilt  # type: ignore[no-any-return]
