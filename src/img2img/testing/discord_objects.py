"""Discord's objects as its REST API returns them, for tests: ids, messages,
attachments, embeds and signed CDN links (the shapes of Discord's documentation)."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

__all__ = [
    "START",
    "discord_attachment",
    "discord_embed",
    "discord_message",
    "signed_cdn_url",
    "snowflake",
]

_EPOCH_MS = 1_420_070_400_000
#: When the fake world's newest message was posted.
START = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def snowflake(when: datetime.datetime, sequence: int = 0) -> str:
    """A Discord id for something created at ``when`` (ids sort by time)."""
    ms = int(when.timestamp() * 1000) - _EPOCH_MS
    return str((ms << 22) | (sequence & 0xFFF))


def signed_cdn_url(base: str, path: str, *, issued: int) -> str:
    """``base + path`` signed as Discord signs attachment links (expiry, issue time, hash)."""
    digest = hashlib.sha256(f"{path}|{issued}".encode()).hexdigest()
    return f"{base.rstrip('/')}{path}?ex={issued + 86_400:x}&is={issued:x}&hm={digest}&"


def discord_attachment(
    attachment_id: str,
    filename: str,
    url: str,
    *,
    content_type: str | None = "image/png",
    width: int | None = 640,
    height: int | None = 480,
    size: int = 48_213,
    description: str | None = None,
    flags: int | None = None,
) -> dict[str, Any]:
    """An attachment object: ``url`` on the CDN, ``proxy_url`` on the media proxy."""
    item: dict[str, Any] = {
        "id": attachment_id,
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
        "width": width,
        "height": height,
    }
    if content_type is not None:
        item["content_type"] = content_type
    if description is not None:
        item["description"] = description
    if flags is not None:
        item["flags"] = flags
    if width is None:  # files that are not images carry no size
        del item["width"], item["height"]
    return item


def discord_embed(
    image_url: str,
    *,
    kind: str = "image",
    page_url: str | None = None,
    title: str | None = None,
    width: int = 800,
    height: int = 600,
) -> dict[str, Any]:
    """An embed: ``kind="image"`` (a posted image link, shown as its thumbnail)
    or ``"rich"``/``"article"`` (with an ``image``), ``"video"``/``"gifv"``."""
    media = {
        "url": image_url,
        "proxy_url": f"https://images-ext-1.discordapp.net/external/x/{quote(image_url, safe='')}",
        "width": width,
        "height": height,
    }
    embed: dict[str, Any] = {"type": kind, "url": page_url or image_url}
    embed["thumbnail" if kind in ("image", "video", "gifv") else "image"] = media
    if title is not None:
        embed["title"] = title
    return embed


def discord_message(
    message_id: str,
    channel_id: str,
    content: str = "",
    *,
    author: str = "someone",
    author_id: str = "80351110224678912",
    attachments: Sequence[Mapping[str, Any]] = (),
    embeds: Sequence[Mapping[str, Any]] = (),
    when: datetime.datetime | None = None,
) -> dict[str, Any]:
    """A message object as ``GET /channels/{id}/messages`` returns it."""
    if when is None:
        ms = (int(message_id) >> 22) + _EPOCH_MS
        when = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return {
        "type": 0,
        "content": content,
        "mentions": [],
        "mention_roles": [],
        "attachments": [dict(a) for a in attachments],
        "embeds": [dict(e) for e in embeds],
        "timestamp": when.isoformat(timespec="microseconds"),
        "edited_timestamp": None,
        "flags": 0,
        "components": [],
        "id": message_id,
        "channel_id": channel_id,
        "author": {
            "id": author_id,
            "username": author,
            "avatar": None,
            "discriminator": "0",
            "public_flags": 0,
            "flags": 0,
            "global_name": author.title(),
        },
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
    }
