"""BlueskySource against the real Bluesky. Runs only with an account and an app password.

BLUESKY_HANDLE=you.bsky.social BLUESKY_APP_PASSWORD=… pytest -m live tests/sources/bluesky
"""

from __future__ import annotations

from web_source_helpers import live_against

from img2img.sources.bluesky.source import BlueskySource

pytestmark = live_against("Bluesky", "BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD")


def test_searches_posts_for_images_past_the_first_page() -> None:
    candidates = list(BlueskySource(max_pages=3).discover("eiffel tower", limit=120))
    assert candidates
    for candidate in candidates:
        assert candidate.image_url.startswith("https://")
        assert candidate.page_url is not None
        assert candidate.page_url.startswith("https://bsky.app/profile/")
        assert candidate.extra["post_uri"].startswith("at://")
