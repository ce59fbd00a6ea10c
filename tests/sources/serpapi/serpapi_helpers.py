"""Helpers shared by the SerpAPI tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from typing import Any

from img2img.sources.serpapi.google_images import SerpApiSource
from img2img.testing.fake_serpapi import FakeSerpApi


def source_for(
    fake: FakeSerpApi, sleeps: list[float] | None = None, **options: Any
) -> SerpApiSource:
    """A source on ``fake`` whose retries record their waits instead of sleeping."""
    return fake.source(sleep=(sleeps if sleeps is not None else []).append, **options)


def loaded_after_importing(*modules: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded once it imported ``modules``."""
    code = (
        f"import sys, {', '.join(modules)};"
        f"print(sorted(m for m in {watched!r} if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded: list[str] = ast.literal_eval(output)
    return loaded
