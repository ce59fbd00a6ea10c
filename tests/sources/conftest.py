"""Fixtures shared by the source tests."""

from __future__ import annotations

import pytest

from img2img.testing.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
