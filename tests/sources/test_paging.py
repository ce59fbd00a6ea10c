"""follow_cursor and numbered: how the web sources read pages and number what they find."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.models import ImageCandidate
from img2img.sources.paging import follow_cursor, numbered


class Pages:
    """A service's pages by cursor (``None`` is the first); records the cursors asked for."""

    def __init__(self, pages: dict[str | None, tuple[list[int], str | None]]) -> None:
        self.pages = pages
        self.asked: list[str | None] = []

    def __call__(self, cursor: str | None) -> tuple[list[int], str | None]:
        self.asked.append(cursor)
        return self.pages[cursor]


def test_pages_are_followed_until_one_gives_no_cursor() -> None:
    pages = Pages({None: ([1, 2], "b"), "b": ([3], "c"), "c": ([4], None)})
    assert list(follow_cursor(pages)) == [1, 2, 3, 4]
    assert pages.asked == [None, "b", "c"]


def test_an_empty_page_ends_the_reading_whatever_its_cursor() -> None:
    pages = Pages({None: ([1], "b"), "b": ([], "c")})
    assert list(follow_cursor(pages)) == [1]
    assert pages.asked == [None, "b"]


@pytest.mark.parametrize("loop", ["b", "c"])
def test_a_service_going_round_in_circles_is_read_once(loop: str) -> None:
    pages = Pages({None: ([1], "b"), "b": ([2], "c"), "c": ([3], loop)})
    assert list(follow_cursor(pages)) == [1, 2, 3]
    assert pages.asked == [None, "b", "c"]


def test_max_pages_bounds_the_reading_and_pages_are_read_lazily() -> None:
    pages = Pages({None: ([1, 2], "b"), "b": ([3, 4], "c"), "c": ([5], None)})
    items = follow_cursor(pages, max_pages=2)
    assert pages.asked == []
    assert next(items) == 1
    assert pages.asked == [None]
    assert list(items) == [2, 3, 4]
    assert pages.asked == [None, "b"]


def candidates(*urls: str) -> Iterator[ImageCandidate]:
    for url in urls:
        yield ImageCandidate(image_url=url, position=99)


def test_numbered_keeps_the_first_of_each_image_in_order_from_one() -> None:
    found = list(
        numbered(candidates("https://a/1", "https://A/1", "https://a/2"), str.lower, limit=10)
    )
    assert [(c.image_url, c.position) for c in found] == [("https://a/1", 1), ("https://a/2", 2)]


def test_numbered_asks_for_nothing_past_the_limit() -> None:
    asked: list[str] = []

    def lazy() -> Iterator[ImageCandidate]:
        for n in range(100):
            asked.append(str(n))
            yield ImageCandidate(image_url=f"https://a/{n}")

    assert [c.position for c in numbered(lazy(), str, limit=3)] == [1, 2, 3]
    assert asked == ["0", "1", "2"]
    assert list(numbered(lazy(), str, limit=0)) == []
    assert asked == ["0", "1", "2"]
