"""BlueskySource against the real Bluesky. Runs only with an account and an app password.

BLUESKY_HANDLE=you.bsky.social BLUESKY_APP_PASSWORD=… pytest -m live tests/sources/bluesky
"""

from __future__ import annotations

import os

import pytest

from img2img.sources.bluesky.source import BlueskySource

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("BLUESKY_HANDLE") and os.environ.get("BLUESKY_APP_PASSWORD")),
        reason="set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD to run against Bluesky",
    ),
]


def test_searches_posts_for_images_past_the_first_page() -> None:
    candidates = list(BlueskySource(max_pages=3).discover("eiffel tower", limit=120))
    assert candidates
    for candidate in candidates:
        assert candidate.image_url.startswith("https://")
        assert candidate.page_url is not None
        assert candidate.page_url.startswith("https://bsky.app/profile/")
        assert candidate.extra["post_uri"].startswith("at://")
