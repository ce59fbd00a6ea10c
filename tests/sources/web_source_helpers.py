"""Helpers shared by the tests of the web sources (Discord, Patreon, Reddit, Bluesky, SerpAPI)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from img2img.models import ImageCandidate

DATA = Path(__file__).parents[1] / "data"


def recorded(service: str, name: str) -> Any:
    """A response recorded from ``service``, as stored in ``tests/data/<service>/<name>``."""
    return json.loads((DATA / service / name).read_text(encoding="utf-8"))


def assert_web_candidate(
    candidate: ImageCandidate,
    *,
    source: str,
    domain: str,
    page_prefix: str,
    provenance: Sequence[str],
    ranked: bool = True,
) -> None:
    """What every web source's candidate carries: an ``http(s)`` image, the page it is
    posted on, a position when the source ranks it, and its provenance in ``extra``,
    with no empty value."""
    assert candidate.image_url.startswith(("http://", "https://"))
    assert candidate.page_url is not None
    assert candidate.page_url.startswith(page_prefix)
    assert candidate.domain == domain
    assert (candidate.position is not None) == ranked
    for key in provenance:
        assert key in candidate.extra, key
    assert candidate.extra["source"] == source
    assert all(value is not None and value != "" for value in candidate.extra.values())


def live_against(service: str, *variables: str, note: str = "") -> list[pytest.MarkDecorator]:
    """The marks of a module that talks to the real ``service``: it runs with
    ``-m live``, and only when every environment variable in ``variables`` is set."""
    return [
        pytest.mark.live,
        pytest.mark.skipif(
            not all(os.environ.get(name) for name in variables),
            reason=f"set {' and '.join(variables)}{note} to run against {service}",
        ),
    ]
