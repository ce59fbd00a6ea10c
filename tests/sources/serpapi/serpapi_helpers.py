"""Helpers shared by the SerpAPI tests."""

from __future__ import annotations

from typing import Any

from img2img.sources.serpapi.google_images import SerpApiSource
from img2img.testing.fake_serpapi import FakeSerpApi


def source_for(
    fake: FakeSerpApi, sleeps: list[float] | None = None, **options: Any
) -> SerpApiSource:
    """A source on ``fake`` whose retries record their waits instead of sleeping."""
    return fake.source(sleep=(sleeps if sleeps is not None else []).append, **options)
