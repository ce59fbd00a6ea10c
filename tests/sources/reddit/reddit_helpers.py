"""Helpers shared by the Reddit source tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from img2img.models import ImageCandidate

DATA = Path(__file__).parents[2] / "data" / "reddit"
PROVENANCE = ("source", "subreddit", "author", "post_id", "posted_at", "posted_at_unix")


def recorded_posts() -> list[dict[str, Any]]:
    """The ``data`` of each post in the recorded search page (HTML-escaped, as Reddit sends it)."""
    page = json.loads((DATA / "search-page.json").read_text(encoding="utf-8"))
    return [child["data"] for child in page["data"]["children"]]


def assert_provenance(candidate: ImageCandidate, *, ranked: bool = True) -> None:
    assert candidate.image_url.startswith(("http://", "https://"))
    assert "&amp;" not in candidate.image_url
    assert candidate.page_url is not None
    assert candidate.page_url.startswith("https://www.reddit.com/r/")
    assert candidate.domain == "reddit.com"
    assert (candidate.position is not None) == ranked
    for key in PROVENANCE:
        assert key in candidate.extra, key
    assert candidate.extra["source"] == "reddit"
    assert all(value is not None and value != "" for value in candidate.extra.values())
