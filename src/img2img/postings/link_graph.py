"""Verified links between records, and the groups a person would make of them.

``duplicates()`` links each record to the neighbours verified to show its
picture. Taking each connected set of links as one picture (a union-find) lets
one wrong link chain two pictures, and all their postings, into one group: a
picture posted 19 times joined to another posted 19 times makes 19 x 19 wrong
pairs, and a store of thousands of alike pictures chains into groups of
thousands. Wrong links are not rare: two reposts that carry the same caption
or the same border agree on it, so the captioned reposts of many pictures link
to each other, each also linked to its own picture.

A picture posted several times is held together by many links: its reposts
verify against the original and against each other, so the records linked to
one of them are mostly linked to each other too. So each group is a *star*:
records are taken in order of the triangles of links they are part of (the
original, or a repost of it, has the most), and each record not yet in a group
becomes a centre, its group the records linked to it that no earlier centre
took. A record left alone that way (every record linked to it taken first: a
repost verified only against other reposts) joins the group holding most of
its links. A wrong link then moves at most the one record at its end; it never
carries a second picture, with its postings, into the group. Chosen by
measurement on ``benchmarks/duplicates_real.py``'s pictures over the
union-find and over cutting lone links (see docs/performance.md).

Memory holds the links (ids of linked records only), as the union-find did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

__all__ = ["LinkGraph"]


class LinkGraph:
    """Undirected links between record ids; not thread-safe (callers hold a lock)."""

    def __init__(self) -> None:
        self._links: dict[str, set[str]] = {}

    def __len__(self) -> int:
        """Links held."""
        return sum(len(others) for others in self._links.values()) // 2

    def add(self, a: str, b: str) -> None:
        """Link ``a`` and ``b`` (verified to show one picture)."""
        if a != b:
            self._links.setdefault(a, set()).add(b)
            self._links.setdefault(b, set()).add(a)

    def linked(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are linked."""
        return b in self._links.get(a, ())

    def links(self, item: str) -> frozenset[str]:
        """The ids linked to ``item``."""
        return frozenset(self._links.get(item, ()))

    def components(self) -> Iterator[list[str]]:
        """Every connected set of two or more linked ids, members sorted (what a
        union-find of the links makes)."""
        seen: set[str] = set()
        for start in sorted(self._links):
            if start in seen:
                continue
            seen.add(start)
            members, frontier = [start], [start]
            while frontier:
                for other in self._links[frontier.pop()]:
                    if other not in seen:
                        seen.add(other)
                        members.append(other)
                        frontier.append(other)
            yield sorted(members)

    def groups(self) -> Iterator[list[str]]:
        """Every group of two or more ids, members sorted: stars around centres (see
        the module docstring)."""
        links = self._links
        triangles = {
            item: sum(len(others & links[other]) for other in others)
            for item, others in links.items()
        }
        group_of: dict[str, int] = {}
        stars: list[list[str]] = []
        for centre in sorted(links, key=lambda item: (-triangles[item], item)):
            if centre not in group_of:
                star = [centre, *sorted(links[centre].difference(group_of))]
                for item in star:
                    group_of[item] = len(stars)
                stars.append(star)
        for index, star in enumerate(stars):
            if len(star) == 1:  # every record linked to it was taken by earlier centres
                votes = Counter(group_of[other] for other in links[star[0]])
                best = max(votes, key=lambda group: (votes[group], -group))
                stars[best].append(star[0])
                group_of[star[0]] = best
                stars[index] = []
        for star in stars:
            if len(star) > 1:
                yield sorted(star)
