"""Fixtures shared by the SerpAPI source tests: one fake service per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.testing.fake_serpapi import FakeSerpApi


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSerpApi]:
    with FakeSerpApi() as fake:
        yield fake


@pytest.fixture
def serp(server: FakeSerpApi) -> FakeSerpApi:
    """The shared fake, serving 250 generated results, with no requests recorded yet."""
    server.reset(total_results=250)
    return server


@pytest.fixture
def sleeps() -> list[float]:
    return []
