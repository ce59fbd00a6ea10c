"""Fixtures shared by the fetcher tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fetch_helpers import Sleeps, loopback_fetcher

from img2img.net.fetch import HttpFetcher


@pytest.fixture
def sleeps() -> Sleeps:
    """Records the fetcher's waits instead of sleeping."""
    return Sleeps()


@pytest.fixture
def fetcher(sleeps: Sleeps) -> Iterator[HttpFetcher]:
    """A fetcher allowed to reach loopback servers, with recorded sleeps."""
    with loopback_fetcher(sleeps) as fetcher:
        yield fetcher
