"""Helpers shared by the Discord source tests."""

from __future__ import annotations

from typing import Any

import web_source_helpers
from web_source_helpers import assert_web_candidate

from img2img.models import ImageCandidate

#: The recorded channel's ids.
GUILD = "1012456372846182440"
CHANNEL = "1225938457282375793"
#: Provenance every Discord candidate carries in ``extra``.
PROVENANCE = ("source", "guild_id", "channel_id", "message_id", "author_id", "posted_at")


def recorded(name: str) -> Any:
    return web_source_helpers.recorded("discord", name)


def assert_provenance(candidate: ImageCandidate) -> None:
    assert_web_candidate(
        candidate,
        source="discord",
        domain="discord.com",
        page_prefix="https://discord.com/channels/",
        provenance=PROVENANCE,
    )
    assert candidate.page_url is not None
    guild, channel, message = candidate.page_url.rsplit("/", 3)[1:]
    assert (channel, message) == (candidate.extra["channel_id"], candidate.extra["message_id"])
    assert guild == candidate.extra.get("guild_id", "@me")
