"""Helpers shared by the Reddit source tests."""

from __future__ import annotations

from typing import Any

from web_source_helpers import assert_web_candidate, recorded

from img2img.models import ImageCandidate

PROVENANCE = ("source", "subreddit", "author", "post_id", "posted_at", "posted_at_unix")


def recorded_posts() -> list[dict[str, Any]]:
    """The ``data`` of each post in the recorded search page (HTML-escaped, as Reddit sends it)."""
    page = recorded("reddit", "search-page.json")
    return [child["data"] for child in page["data"]["children"]]


def assert_provenance(candidate: ImageCandidate, *, ranked: bool = True) -> None:
    assert_web_candidate(
        candidate,
        source="reddit",
        domain="reddit.com",
        page_prefix="https://www.reddit.com/r/",
        provenance=PROVENANCE,
        ranked=ranked,
    )
    assert "&amp;" not in candidate.image_url
