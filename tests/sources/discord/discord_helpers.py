"""Helpers shared by the Discord source tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from img2img.models import ImageCandidate

DATA = Path(__file__).parents[2] / "data" / "discord"
#: The recorded channel's ids.
GUILD = "1012456372846182440"
CHANNEL = "1225938457282375793"
#: Provenance every Discord candidate carries in ``extra``.
PROVENANCE = ("source", "guild_id", "channel_id", "message_id", "author_id", "posted_at")


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def assert_provenance(candidate: ImageCandidate) -> None:
    assert candidate.image_url.startswith(("http://", "https://"))
    assert candidate.page_url is not None
    assert candidate.page_url.startswith("https://discord.com/channels/")
    assert candidate.domain == "discord.com"
    assert candidate.position is not None
    for key in PROVENANCE:
        assert key in candidate.extra, key
    assert candidate.extra["source"] == "discord"
    assert all(value is not None and value != "" for value in candidate.extra.values())
    guild, channel, message = candidate.page_url.rsplit("/", 3)[1:]
    assert (channel, message) == (candidate.extra["channel_id"], candidate.extra["message_id"])
    assert guild == candidate.extra.get("guild_id", "@me")
