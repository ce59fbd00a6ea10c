"""PatreonSource against the real Patreon API. Runs only with a creator access token.

PATREON_ACCESS_TOKEN=… pytest -m live tests/sources/patreon
"""

from __future__ import annotations

import pytest
from web_source_helpers import live_against

from img2img.errors import AuthenticationError
from img2img.sources.patreon.source import PatreonSource

pytestmark = live_against("Patreon", "PATREON_ACCESS_TOKEN", note=" (a creator access token)")


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
