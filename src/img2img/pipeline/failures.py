"""One bad image never sinks a run: which errors belong to one item, and which end the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    ImageError,
    Img2ImgError,
    InvalidMetadataError,
    InvalidVectorError,
    ModelUnavailableError,
    ServiceError,
    StoreError,
)
from img2img.models import Stage

__all__ = ["ItemFailed", "guarded", "is_systemic", "reason"]

T = TypeVar("T")


def is_systemic(exc: BaseException) -> bool:
    """Whether ``exc`` would stop every item alike, so it ends the run instead of one item.

    A bad key, a service or store that is down, a missing model or package, or
    Ctrl-C; a store's refusal of one record's vector or metadata is not.
    """
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
        return True
    if isinstance(exc, (InvalidVectorError, InvalidMetadataError)):
        return False
    return isinstance(
        exc,
        (
            ServiceError,
            ModelUnavailableError,
            ConfigurationError,
            EmbeddingSpaceMismatchError,
            StoreError,
        ),
    )


def reason(error: BaseException) -> str:
    """A failure's reason: the message of img2img's own errors; the type of others too."""
    if isinstance(error, Img2ImgError):
        return str(error) or type(error).__name__
    return f"unexpected {type(error).__name__}: {error}" if str(error) else type(error).__name__


class ItemFailed(Exception):
    """One item failed at ``stage``; carries the error out of a stage's thread."""

    def __init__(self, stage: Stage, error: Exception) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


def guarded(stage: Stage, step: Callable[[], T]) -> T:
    """``step()``, with whatever goes wrong for this one item raised as :class:`ItemFailed`
    naming ``stage`` (``decode`` for an image that cannot be read, wherever it shows);
    systemic errors pass as they are."""
    try:
        return step()
    except Exception as exc:
        if is_systemic(exc):
            raise
        raise ItemFailed("decode" if isinstance(exc, ImageError) else stage, exc) from exc
