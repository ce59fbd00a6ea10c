"""Helpers shared by the Bluesky source tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from img2img.models import ImageCandidate

DATA = Path(__file__).parents[2] / "data" / "bluesky"
PROVENANCE = ("source", "author_did", "post_uri", "posted_at", "posted_at_unix", "image_index")


def recorded_page() -> dict[str, Any]:
    page: dict[str, Any] = json.loads((DATA / "search-page.json").read_text(encoding="utf-8"))
    return page


def assert_provenance(candidate: ImageCandidate, *, ranked: bool = True) -> None:
    assert candidate.image_url.startswith(("http://", "https://"))
    assert candidate.page_url is not None
    assert candidate.page_url.startswith("https://bsky.app/profile/")
    assert "/post/" in candidate.page_url
    assert candidate.domain == "bsky.app"
    assert (candidate.position is not None) == ranked
    for key in PROVENANCE:
        assert key in candidate.extra, key
    assert candidate.extra["source"] == "bluesky"
    assert all(value is not None and value != "" for value in candidate.extra.values())
