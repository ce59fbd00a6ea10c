"""RedditSource against the real Reddit, through OAuth. Runs only with a Reddit app's credentials.

REDDIT_CLIENT_ID=… REDDIT_CLIENT_SECRET=… REDDIT_USER_AGENT="…(by /u/you)" pytest -m live tests/sources/reddit
"""

from __future__ import annotations

import os

import pytest
from web_source_helpers import live_against

from img2img.errors import AuthenticationError
from img2img.sources.reddit.source import RedditSource

pytestmark = live_against("Reddit", "REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET")


def test_searches_a_subreddit_for_images() -> None:
    candidates = list(RedditSource(["pics"]).discover("eiffel tower", limit=15))
    assert candidates
    for candidate in candidates:
        assert candidate.image_url.startswith("https://")
        assert "&amp;" not in candidate.image_url
        assert candidate.page_url is not None
        assert candidate.page_url.startswith("https://www.reddit.com/r/")
        assert candidate.extra["subreddit"].lower() == "pics"


def test_a_wrong_secret_is_an_authentication_error() -> None:
    source = RedditSource(client_id=os.environ["REDDIT_CLIENT_ID"], client_secret="wrong-secret")
    with pytest.raises(AuthenticationError, match="REDDIT_CLIENT_SECRET"):
        list(source.discover("eiffel tower", limit=1))
