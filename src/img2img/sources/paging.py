"""Reading a web API's results as the sources do: page after page, then distinct images in order.

Services page differently (a cursor, an ``after`` name, an offset), but the
sources that follow a cursor stop for the same reasons, and every source
numbers the images it yields the same way; both live here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

from img2img.models import ImageCandidate

__all__ = ["follow_cursor", "numbered"]

T = TypeVar("T")


def follow_cursor(
    fetch: Callable[[str | None], tuple[Sequence[T], str | None]],
    *,
    max_pages: int | None = None,
) -> Iterator[T]:
    """The items of page after page, read lazily.

    ``fetch(cursor)`` reads one page, ``None`` asking for the first, and
    returns its items and the cursor of the next page. Reading stops at an
    empty page, a page that gives no cursor, a cursor given before (a service
    going round in circles), or after ``max_pages`` pages.
    """
    cursor: str | None = None
    given: set[str] = set()
    pages = range(max_pages) if max_pages is not None else itertools.count()
    for _ in pages:
        items, next_cursor = fetch(cursor)
        yield from items
        if not items or next_cursor is None or next_cursor in given:
            return
        given.add(next_cursor)
        cursor = next_cursor


def numbered(
    candidates: Iterable[ImageCandidate], key: Callable[[str], str], limit: int
) -> Iterator[ImageCandidate]:
    """The first ``limit`` candidates whose image URLs differ by ``key``, at positions 1, 2, ….

    Asks ``candidates`` for no more than it yields, so a lazy source sends no
    request past the one that completed ``limit``.
    """
    if limit < 1:
        return
    seen: set[str] = set()
    for candidate in candidates:
        found = key(candidate.image_url)
        if found in seen:
            continue
        seen.add(found)
        yield replace(candidate, position=len(seen))
        if len(seen) >= limit:
            return
