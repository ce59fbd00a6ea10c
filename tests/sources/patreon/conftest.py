"""Fixtures for the Patreon source tests: a fresh loopback Patreon per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.testing.fake_patreon import FakePatreon


@pytest.fixture
def patreon() -> Iterator[FakePatreon]:
    with FakePatreon() as fake:
        yield fake
