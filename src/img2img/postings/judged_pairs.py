"""Which neighbour pairs a pass over a whole store has judged already, from the other side.

``duplicates()`` judges each record against its nearest neighbours. When ``b``
is among ``a``'s nearest and ``a`` among ``b``'s, the pair comes up twice, and
among pictures that merely look alike (two cuts of one photo, photos of one
subject) it is refused twice: on real photos most neighbour pairs are such
pairs, and most of them are mutual. A neighbour list holds every record
scoring above the list's lowest score (its *cutoff*), so whether ``a`` was in
``b``'s list is known from ``b``'s cutoff alone: one number per record judged
before, not the pairs themselves. The cutoffs of the last :data:`REMEMBERED`
records are kept (about a megabyte), so memory stays flat in a store of any
size; a store that large judges a mutual pair twice when its two records are
further apart in the scan. With an approximate index a list may lack a record
scoring above its cutoff; that pair is then skipped from both sides, as often
as the index misses a neighbour (its recall@10 is measured at 0.95 or more),
except for a record the index did not reach at all (asked again exactly, see
:mod:`~img2img.postings.neighbours`), whose pairs are all judged from its side.
"""

from __future__ import annotations

from collections.abc import Sequence

from img2img.models import Match

__all__ = ["REMEMBERED", "JudgedPairs"]

#: Scores of one pair computed in two blocked products may differ in the last
#: bits: a pair this close to a list's cutoff is judged again rather than missed.
_TIE = 1e-5
#: Records whose cutoffs are kept: every record of a store this size.
REMEMBERED = 10_000


class JudgedPairs:
    """Neighbour lists seen so far, each remembered by its cutoff.

    Call :meth:`fresh` once per record, in the order the records are judged.
    """

    def __init__(self, *, k: int, remembered: int = REMEMBERED) -> None:
        self.k = k
        self.remembered = remembered
        self._cutoffs: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._cutoffs)

    def fresh(
        self, record_id: str, neighbours: Sequence[Match], *, unreached: bool = False
    ) -> list[Match]:
        """The ``neighbours`` of ``record_id`` whose pair was not judged from their side.

        ``neighbours`` are the record's nearest others (at most ``k``, best
        first, as the store returned them); a list shorter than ``k`` held every
        record above the pass's least score, so its cutoff is that score's.
        ``unreached``: the record was in no other list whatever its score (the
        index did not reach it), so every pair is judged from its side.
        """
        fresh = [
            n
            for n in neighbours
            if unreached or n.score <= self._cutoffs.get(n.id, float("inf")) + _TIE
        ]
        if neighbours:
            full = len(neighbours) >= self.k
            self._cutoffs[record_id] = min(n.score for n in neighbours) if full else -1.0
            if len(self._cutoffs) > self.remembered:  # the oldest goes: dicts keep order
                del self._cutoffs[next(iter(self._cutoffs))]
        return fresh
