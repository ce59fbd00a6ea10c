"""Helpers shared by the Patreon source tests."""

from __future__ import annotations

from typing import Any

from web_source_helpers import assert_web_candidate, recorded

from img2img.models import ImageCandidate

#: The recorded page's campaign.
CAMPAIGN = "7345621"
PROVENANCE = ("source", "campaign_id", "post_id", "posted_at", "posted_at_unix", "image_kind")


def recorded_page() -> dict[str, Any]:
    page: dict[str, Any] = recorded("patreon", "posts-page.json")
    return page


def assert_provenance(candidate: ImageCandidate, *, ranked: bool = True) -> None:
    assert_web_candidate(
        candidate,
        source="patreon",
        domain="patreon.com",
        page_prefix="https://www.patreon.com/posts/",
        provenance=PROVENANCE,
        ranked=ranked,
    )
