"""Fixtures for the Bluesky source tests: a fresh loopback Bluesky per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.testing.fake_bluesky import FakeBluesky


@pytest.fixture
def bsky() -> Iterator[FakeBluesky]:
    with FakeBluesky() as fake:
        yield fake
