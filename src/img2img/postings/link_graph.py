"""Verified links between records, and the groups a person would make of them.

``duplicates()`` links each record to the neighbours verified to show its
picture. Taking each connected set of links as one picture (a union-find) lets
one wrong link chain two pictures, and all their postings, into one group: a
picture posted 19 times joined to another posted 19 times makes 19 x 19 wrong
pairs, and a store of thousands of alike pictures chains into groups of
thousands. A picture posted several times is held together by many links (its
reposts verify against the original and against each other); a wrong link is
one. So the groups are what stays connected once the *lone links* (bridges: a
link whose removal splits its set in two) with at least :data:`MIN_SIDE`
records on each side are cut, the most even first: joining two pictures then
takes two links or more, while a record linked to the rest by one link (a
repost verified only against another repost) still joins, its side holding one
record.

Memory holds the links (ids of linked records only), as the union-find did.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["MIN_SIDE", "LinkGraph"]

#: Records each side of a lone link must hold for the link to be cut: a record
#: (a repost of a repost) joins through one link, two postings of each of two
#: pictures need two links to join.
MIN_SIDE = 2


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

    def links(self, item: str) -> frozenset[str]:
        """The ids linked to ``item``."""
        return frozenset(self._links.get(item, ()))

    def settled(self, a: str, b: str) -> bool:
        """Whether a link between ``a`` and ``b`` could change no group: they are linked,
        or two others are each linked to both (two links would have to be cut to part
        them, so they stay together whatever else is cut, and a link between them
        cuts nothing apart)."""
        links_a, links_b = self._links.get(a), self._links.get(b)
        if not links_a or not links_b:
            return False
        if b in links_a:
            return True
        small, large = (links_a, links_b) if len(links_a) <= len(links_b) else (links_b, links_a)
        common = 0
        for other in small:
            if other in large:
                common += 1
                if common >= 2:
                    return True
        return False

    def components(self) -> Iterator[list[str]]:
        """Every connected set of two or more linked ids, members sorted (what a
        union-find of the links gives)."""
        yield from self.groups(min_side=None)

    def groups(self, *, min_side: int | None = MIN_SIDE) -> Iterator[list[str]]:
        """Every group of two or more ids, members sorted.

        In each connected set, the lone link (a bridge) whose smaller side is
        largest is cut, and each part is looked at again, until no lone link has
        ``min_side`` ids or more on both sides (``None``: nothing is cut). The
        most even cut first: a repost linked to its original by one link and to
        another picture's posting by another is cut from the other picture (the
        larger smaller side), not from its own, whose side is then only itself.
        """
        cut: set[frozenset[str]] = set()
        done: set[str] = set()
        for start in sorted(self._links):
            if start in done:
                continue
            pending = [start]
            while pending:
                members, bridge = self._walk(pending.pop(), cut, min_side)
                if bridge is None:
                    done.update(members)
                    if len(members) > 1:
                        yield sorted(members)
                    continue
                cut.add(frozenset(bridge))
                pending.extend(bridge)  # each end now lies in a part of its own

    def _walk(
        self, start: str, cut: set[frozenset[str]], min_side: int | None
    ) -> tuple[list[str], tuple[str, str] | None]:
        """Depth-first from ``start`` without recursion, over links not ``cut``: the
        connected set, and its bridge (Tarjan's low links) whose smaller side is
        largest, when that side holds ``min_side`` ids or more."""
        order: dict[str, int] = {start: 0}
        low: dict[str, int] = {start: 0}
        size: dict[str, int] = {start: 1}
        members = [start]
        tree: list[tuple[str, str]] = []  # (parent, child) for each tree link
        stack: list[tuple[str, str | None, Iterator[str]]] = [
            (start, None, iter(sorted(self._links[start])))
        ]
        while stack:
            node, parent, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                if parent is not None:
                    low[parent] = min(low[parent], low[node])
                    size[parent] += size[node]
                continue
            if child == parent or (cut and frozenset((node, child)) in cut):
                continue
            if child in order:
                low[node] = min(low[node], order[child])
                continue
            order[child] = low[child] = len(order)
            size[child] = 1
            members.append(child)
            tree.append((node, child))
            stack.append((child, node, iter(sorted(self._links[child]))))
        if min_side is None:
            return members, None
        best, bridge = min_side - 1, None
        for parent, child in tree:
            if low[child] > order[parent]:
                smaller = min(size[child], len(members) - size[child])
                if smaller > best:
                    best, bridge = smaller, (parent, child)
        return members, bridge
