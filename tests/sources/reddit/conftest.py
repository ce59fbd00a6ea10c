"""Fixtures for the Reddit source tests: a fresh loopback Reddit per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.testing.fake_reddit import FakeReddit


@pytest.fixture
def reddit() -> Iterator[FakeReddit]:
    with FakeReddit() as fake:
        yield fake
