"""Helpers shared by the Patreon source tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from img2img.models import ImageCandidate

DATA = Path(__file__).parents[2] / "data" / "patreon"
#: The recorded page's campaign.
CAMPAIGN = "7345621"
PROVENANCE = ("source", "campaign_id", "post_id", "posted_at", "posted_at_unix", "image_kind")


def recorded_page() -> dict[str, Any]:
    page: dict[str, Any] = json.loads((DATA / "posts-page.json").read_text(encoding="utf-8"))
    return page


def assert_provenance(candidate: ImageCandidate, *, ranked: bool = True) -> None:
    assert candidate.image_url.startswith(("http://", "https://"))
    assert candidate.page_url is not None
    assert candidate.page_url.startswith("https://www.patreon.com/posts/")
    assert candidate.domain == "patreon.com"
    assert (candidate.position is not None) == ranked
    for key in PROVENANCE:
        assert key in candidate.extra, key
    assert candidate.extra["source"] == "patreon"
    assert all(value is not None and value != "" for value in candidate.extra.values())
