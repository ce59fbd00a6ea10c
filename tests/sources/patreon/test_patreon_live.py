"""PatreonSource against the real Patreon API. Runs only with a creator access token.

PATREON_ACCESS_TOKEN=… pytest -m live tests/sources/patreon
"""

from __future__ import annotations

import os

import pytest

from img2img.errors import AuthenticationError
from img2img.sources.patreon.source import PatreonSource

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.environ.get("PATREON_ACCESS_TOKEN"),
        reason="set PATREON_ACCESS_TOKEN (a creator access token) to run against Patreon",
    ),
]


def test_reads_the_creators_posts() -> None:
    source = PatreonSource()
    for candidate in source.discover("", limit=10):
        assert candidate.image_url.startswith("https://")
        assert candidate.page_url is not None
        assert candidate.page_url.startswith("https://www.patreon.com/posts/")
    assert source.failures == []


def test_a_wrong_token_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="PATREON_ACCESS_TOKEN"):
        list(PatreonSource(access_token="not-a-token").discover("", limit=1))
