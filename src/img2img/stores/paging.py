"""Reading a whole store a page at a time: what every store's ``scan`` shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from img2img.arguments import check_whole
from img2img.models import VectorRecord

__all__ = ["check_batch_size", "records_in_pages"]


def check_batch_size(batch_size: object) -> int:
    """``batch_size`` if it is a positive ``int``; else a :class:`ConfigurationError`."""
    return check_whole("batch_size", batch_size)


def records_in_pages(
    id_pages: Iterable[Sequence[str]],
    fetch: Callable[[Sequence[str]], dict[str, VectorRecord]],
    batch_size: int,
) -> Iterator[list[VectorRecord]]:
    """Regroup listed ids into lists of ``batch_size`` and fetch each list's records.

    Ids deleted between listing and fetching are left out, so a list may come
    back shorter; an empty one is not yielded.
    """
    pending: list[str] = []
    for page in id_pages:
        pending.extend(page)
        while len(pending) >= batch_size:
            chunk, pending = pending[:batch_size], pending[batch_size:]
            if found := list(fetch(chunk).values()):
                yield found
    if pending and (found := list(fetch(pending).values())):
        yield found
