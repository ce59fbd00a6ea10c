"""``duplicates()`` lays its groups out on a pool, in order, a bounded number ahead."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from img2img.postings.duplicates import in_order


def test_results_come_in_the_order_of_the_items_whatever_finishes_first() -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (10 - n))  # the first items finish last
        return n * n

    with ThreadPoolExecutor(4) as pool:
        assert list(in_order(pool, slow_for_small, range(10), ahead=3)) == [
            n * n for n in range(10)
        ]


def test_at_most_ahead_items_are_submitted_beyond_the_one_awaited() -> None:
    submitted = 0
    lock = threading.Lock()

    def items():  # type: ignore[no-untyped-def]
        nonlocal submitted
        for n in range(50):
            with lock:
                submitted += 1
            yield n

    with ThreadPoolExecutor(2) as pool:
        results = in_order(pool, lambda n: n, items(), ahead=4)
        assert next(results) == 0
        assert submitted == 5  # the one awaited and 4 ahead: not all 50
        assert next(results) == 1
        assert submitted == 6
        assert list(results) == list(range(2, 50))


def test_an_error_of_one_item_reaches_the_caller_at_that_item() -> None:
    def fails_at_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    with ThreadPoolExecutor(2) as pool:
        results = in_order(pool, fails_at_three, range(6), ahead=2)
        assert [next(results) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="three"):
            next(results)
