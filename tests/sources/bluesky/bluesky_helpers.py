"""Helpers shared by the Bluesky source tests."""

from __future__ import annotations

from typing import Any

from web_source_helpers import assert_web_candidate, recorded

from img2img.models import ImageCandidate

PROVENANCE = ("source", "author_did", "post_uri", "posted_at", "posted_at_unix", "image_index")


def recorded_page() -> dict[str, Any]:
    page: dict[str, Any] = recorded("bluesky", "search-page.json")
    return page


def assert_provenance(candidate: ImageCandidate, *, ranked: bool = True) -> None:
    assert_web_candidate(
        candidate,
        source="bluesky",
        domain="bsky.app",
        page_prefix="https://bsky.app/profile/",
        provenance=PROVENANCE,
        ranked=ranked,
    )
    assert "/post/" in str(candidate.page_url)
