"""Fixtures shared by the SerpAPI source tests (``serp``, the fake service, comes from the
top conftest)."""

from __future__ import annotations

import pytest


@pytest.fixture
def sleeps() -> list[float]:
    return []
