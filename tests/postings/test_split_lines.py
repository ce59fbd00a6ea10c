"""The lines of one colour a picture is cut along are the lines whose grey levels' standard
deviation, as numpy computes it in float32, is at most ``UNIFORM_STD``: told exactly so,
however they are computed, also for lines at the limit."""

from __future__ import annotations

import numpy as np
import pytest

from img2img.postings.regions import UNIFORM_STD, _one_colour


def as_numpy_tells(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    levels = part.astype(np.float32)
    return levels.std(axis=1) <= UNIFORM_STD, levels.std(axis=0) <= UNIFORM_STD


def at_the_limit(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Lines of two levels 5 apart, about half and half (a variance of 6.25 when
    exactly so), a few pixels a level off: some just under the limit, some at it,
    some just over; bright and dark."""
    height, width = shape
    part = np.empty(shape, np.int16)
    for row in range(height):
        base = int(rng.choice([1, 20, 128, 249]))
        high = rng.random(width) < rng.uniform(0.45, 0.55)
        line = np.where(high, base + 5, base)
        off = rng.choice(width, int(rng.integers(0, 4)), replace=False)
        line[off] += rng.choice([-1, 1], len(off))
        part[row] = line
    return part.astype(np.uint8)


def two_outliers(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Lines of one level but for one pixel brighter and one darker by as much as leaves
    the variance just under or just over the limit: the widest spread a line of one
    colour can have."""
    height, width = shape
    part = np.full(shape, 128, np.uint8)
    reach = (UNIFORM_STD**2 * width / 2) ** 0.5
    for row in range(height):
        step = int(reach) + int(rng.integers(0, 2))
        first, second = rng.choice(width, 2, replace=False)
        part[row, first] += step
        part[row, second] -= step
    return part


@pytest.mark.parametrize("seed", range(6))
def test_lines_of_one_colour_are_told_as_numpys_standard_deviation_tells_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(40, 400)), int(rng.integers(40, 512)))
    pictures = [
        at_the_limit(rng, shape),
        at_the_limit(rng, shape[::-1]).T.copy(),  # the same for columns
        two_outliers(rng, shape),
        two_outliers(rng, shape[::-1]).T.copy(),
        np.clip(rng.normal(rng.uniform(0, 255), 2.5, shape), 0, 255).round().astype(np.uint8),
        rng.integers(0, 256, shape).astype(np.uint8),
        np.full(shape, 255, np.uint8),
    ]
    for part in pictures:
        rows, columns = _one_colour(part)
        expected_rows, expected_columns = as_numpy_tells(part)
        assert np.array_equal(rows, expected_rows)
        assert np.array_equal(columns, expected_columns)
