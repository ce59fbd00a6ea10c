"""Fixtures for the Discord source tests: a fresh loopback Discord per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from discord_helpers import CHANNEL, recorded

from img2img.testing.fake_discord import FakeDiscord


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def recorded_channel(discord: FakeDiscord) -> FakeDiscord:
    """The fake serving the recorded channel and its page of messages."""
    channel = recorded("channel.json")
    discord.add_channel(
        CHANNEL,
        guild_id=channel["guild_id"],
        name=channel["name"],
        messages=recorded("messages-page.json"),
    )
    return discord
