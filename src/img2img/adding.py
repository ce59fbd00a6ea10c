"""What ``add()`` accepts, checked before any work, and turned into candidates.

A wrong item is refused at once with a :class:`~img2img.errors.ConfigurationError`
naming it, rather than as a ``TypeError`` from deep inside a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

from img2img.errors import ConfigurationError, FetchError
from img2img.loading import expand_path, to_url
from img2img.models import ImageCandidate
from img2img.sources.folder import FolderSource, candidate_for_path

__all__ = ["AddItem", "candidates_for", "check_item", "items_to_add"]

#: What ``add()`` takes: a path to a file or folder, an ``http(s)``/``file`` URL, or a candidate.
AddItem = str | os.PathLike[str] | ImageCandidate


def check_item(item: object) -> None:
    """Refuse anything ``add()`` cannot index."""
    if not isinstance(item, (str, os.PathLike, ImageCandidate)):
        raise ConfigurationError(
            "add() takes paths, folders, URLs or ImageCandidates; "
            f"got {type(item).__name__}: {item!r:.80}"
        )


def items_to_add(items: AddItem | Iterable[AddItem]) -> Iterable[AddItem]:
    """``items`` as an iterable (one item is a list of one), a list checked whole now;
    a generator is checked as it is read, by :func:`candidates_for`."""
    if isinstance(items, (str, os.PathLike, ImageCandidate)):
        return [items]
    if isinstance(items, Sequence):
        for item in items:
            check_item(item)
    return items


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
