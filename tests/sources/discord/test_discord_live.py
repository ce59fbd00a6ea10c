"""DiscordSource against the real Discord. Runs only with a bot token and a channel to read.

DISCORD_BOT_TOKEN=… DISCORD_TEST_CHANNEL=<channel id> pytest -m live tests/sources/discord
"""

from __future__ import annotations

import os

import pytest
from web_source_helpers import live_against

from img2img.errors import AuthenticationError
from img2img.sources.discord.source import DiscordSource

CHANNEL = os.environ.get("DISCORD_TEST_CHANNEL", "")
pytestmark = live_against("Discord", "DISCORD_BOT_TOKEN", "DISCORD_TEST_CHANNEL")


def test_reads_the_images_of_a_channel() -> None:
    source = DiscordSource([CHANNEL])
    candidates = list(source.discover("", limit=20))
    assert source.failures == []
    for candidate in candidates:
        assert candidate.image_url.startswith("https://")
        assert candidate.page_url is not None
        assert candidate.page_url.startswith("https://discord.com/channels/")
        assert candidate.extra["channel_id"] == CHANNEL
        assert all(value is not None for value in candidate.extra.values())


def test_a_wrong_token_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="DISCORD_BOT_TOKEN"):
        list(DiscordSource([CHANNEL], token="bm90LWEtdG9rZW4.AAAAAA.not-a-token").discover(""))
