"""What the client's methods accept, checked before any work, and turned into candidates.

A wrong argument is refused at once with a :class:`~img2img.errors.ConfigurationError`
naming it, rather than as a ``TypeError`` from deep inside a run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator

from img2img.errors import ConfigurationError, FetchError
from img2img.loading import expand_path, to_url
from img2img.models import ImageCandidate
from img2img.sources.folder import FolderSource, candidate_for_path

__all__ = [
    "AddItem",
    "candidates_for",
    "check_item",
    "check_k",
    "check_min_score",
    "check_whole",
]

#: What ``add()`` takes: a path to a file or folder, an ``http(s)``/``file`` URL, or a candidate.
AddItem = str | os.PathLike[str] | ImageCandidate


def check_item(item: object) -> None:
    """Refuse anything ``add()`` cannot index."""
    if not isinstance(item, (str, os.PathLike, ImageCandidate)):
        raise ConfigurationError(
            "add() takes paths, folders, URLs or ImageCandidates; "
            f"got {type(item).__name__}: {item!r:.80}"
        )


def candidates_for(items: Iterable[AddItem]) -> Iterator[ImageCandidate]:
    """One candidate per file or URL, every image file of a folder; lazily."""
    for item in items:
        check_item(item)
        if isinstance(item, ImageCandidate):
            yield item
            continue
        text = os.fsdecode(os.fspath(item))
        try:
            url = to_url(text)
            if url == text:  # a URL, not a path
                yield ImageCandidate(image_url=url)
                continue
            path = expand_path(text)
            found = (
                list(FolderSource(path).discover("", limit=2**62))
                if path.is_dir()
                else [candidate_for_path(path)]
            )
        except (FetchError, OSError, RuntimeError, ValueError):
            # A path no file can have: still one item, which fails when it is read.
            yield ImageCandidate(image_url=text)
            continue
        yield from found


def check_whole(name: str, value: object, *, least: int = 1) -> int:
    """``value`` if it is an ``int`` of at least ``least`` (``True`` is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigurationError(
            f"{name} must be a whole number of at least {least}, got {value!r}"
        )
    return value


def check_k(k: object) -> int:
    """``k`` if it is a positive whole number."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive whole number, got {k!r}")
    return k


def check_min_score(min_score: object) -> None:
    """Refuse a ``min_score`` that is neither ``None`` nor a number."""
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, (int, float))
        or math.isnan(min_score)
    ):
        raise ConfigurationError(f"min_score must be a number or None, got {min_score!r}")
