"""Groups from verified links: one wrong link does not chain two pictures together."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from img2img.postings.link_graph import LinkGraph


def _picture(graph: LinkGraph, name: str, reposts: int, *, dense: bool = True) -> list[str]:
    """A base picture and its reposts, linked as duplicates() links them: every repost
    to the base, and (``dense``) reposts to each other."""
    members = [f"{name}{i}" for i in range(reposts + 1)]
    for repost in members[1:]:
        graph.add(members[0], repost)
    if dense:
        for a, b in itertools.combinations(members[1:], 2):
            graph.add(a, b)
    return members


def test_two_pictures_joined_by_one_wrong_link_stay_two_groups() -> None:
    graph = LinkGraph()
    a = _picture(graph, "a", 5)
    b = _picture(graph, "b", 3, dense=False)  # a star: reposts linked to the base only
    graph.add("a3", "b2")  # one wrong link, between two reposts

    assert sorted(graph.groups()) == [sorted(a), sorted(b)]
    assert sorted(graph.components()) == [sorted(a + b)]  # what a union-find would make


def test_a_chain_of_pictures_joined_by_single_links_falls_apart() -> None:
    graph = LinkGraph()
    pictures = [_picture(graph, name, 2) for name in "abcd"]
    graph.add("a1", "b1")
    graph.add("b2", "c0")
    graph.add("c1", "d2")
    graph.add("x", "a0")  # and a picture posted once, linked wrongly to one of them

    assert sorted(graph.groups()) == sorted(
        [sorted(pictures[0] + ["x"])] + [sorted(p) for p in pictures[1:]]
    )


def test_a_picture_posted_twice_is_not_joined_to_another_by_one_link() -> None:
    graph = LinkGraph()
    graph.add("a0", "a1")
    graph.add("b0", "b1")
    graph.add("a1", "b0")

    assert sorted(graph.groups()) == [["a0", "a1"], ["b0", "b1"]]


def test_a_repost_of_a_repost_still_joins() -> None:
    graph = LinkGraph()
    members = _picture(graph, "a", 4)
    graph.add("a2", "a2-again")  # verified against a repost only

    assert list(graph.groups()) == [sorted([*members, "a2-again"])]
    lone = LinkGraph()
    lone.add("base", "repost")
    lone.add("repost", "repost-of-repost")
    assert list(lone.groups()) == [["base", "repost", "repost-of-repost"]]


def test_a_wrong_link_to_a_centre_moves_one_record_at_most() -> None:
    graph = LinkGraph()
    a = _picture(graph, "a", 4)
    b = _picture(graph, "b", 4)
    graph.add("a2", "b0")  # the other picture's original

    groups = sorted(graph.groups())

    assert len(groups) == 2
    wrong = sum(min(len(set(group) & set(a)), len(set(group) & set(b))) for group in groups)
    assert wrong <= 1


def test_links_are_kept_both_ways() -> None:
    graph = LinkGraph()
    graph.add("a", "b")
    graph.add("a", "c")
    graph.add("a", "a")  # a record is not its own duplicate
    assert graph.linked("b", "a")
    assert not graph.linked("b", "c")
    assert graph.links("a") == {"b", "c"}
    assert graph.links("unknown") == frozenset()
    assert len(graph) == 2


links_strategy = st.lists(st.tuples(st.integers(0, 14), st.integers(0, 14)), max_size=40)


@given(links_strategy)
def test_groups_share_out_every_linked_id_within_its_connected_set(
    pairs: list[tuple[int, int]],
) -> None:
    graph = LinkGraph()
    sets: list[set[str]] = []  # the naive answer: merge the sets each link touches
    for a, b in pairs:
        if a != b:
            graph.add(str(a), str(b))
            touching = [s for s in sets if str(a) in s or str(b) in s]
            sets = [s for s in sets if s not in touching] + [{str(a), str(b)}.union(*touching)]
    components = sorted(graph.components())
    assert components == sorted(sorted(s) for s in sets)
    groups = list(graph.groups())
    members = [item for group in groups for item in group]
    assert sorted(members) == sorted(item for component in components for item in component)
    for group in groups:
        assert any(set(group) <= set(component) for component in components)
        for item in group:  # each linked to another of its group
            assert graph.links(item) & set(group)
