"""Discord message objects -> image candidates, with the message's provenance.

A message holds images in three places: ``attachments`` (uploaded files),
``embeds`` (a posted image link, or a rich embed's ``image`` and
``thumbnail``) and, for a forwarded message, the ``message_snapshots`` it
carries. Each becomes a candidate whose page is the message's jump link.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from img2img.models import ImageCandidate, MetadataValue
from img2img.provenance import normalise_url
from img2img.sources.fields import (
    compact,
    has_image_extension,
    http_url,
    is_image_type,
    matches_words,
    positive_int,
    text,
    unix_time,
)

__all__ = [
    "ChannelInfo",
    "candidates_from_message",
    "dedup_key",
    "jump_link",
    "message_text",
]

WEB_URL = "https://discord.com"
#: Attachment flag ``IS_SPOILER`` (``1 << 3``): blurred until clicked.
_SPOILER = 1 << 3
# Embeds of these types show an image; "video" and "gifv" show a video's poster.
_IMAGE_EMBEDS = frozenset({"image", "rich", "article", "link"})
# Query parameters of signed Discord CDN URLs: expiry, issue time, signature.
_SIGNATURE = frozenset({"ex", "is", "hm"})
_CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
_TITLE_LENGTH = 200


@dataclass(frozen=True)
class ChannelInfo:
    """What the candidates of one channel share: ids and the channel's name."""

    channel_id: str
    guild_id: str | None = None
    name: str | None = None


def jump_link(guild_id: str | None, channel_id: str, message_id: str) -> str:
    """The message's link, as Discord's "Copy Message Link" gives it (``@me`` outside servers)."""
    return f"{WEB_URL}/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def dedup_key(url: str) -> str:
    """Identity of an image URL across messages.

    Discord signs attachment URLs with ``ex``/``is``/``hm`` parameters that
    change each time a message is read, and serves the same file from
    ``cdn.discordapp.com`` and ``media.discordapp.net``; neither difference
    makes another image.
    """
    parts = urlsplit(normalise_url(url))
    if parts.hostname not in _CDN_HOSTS:
        return urlunsplit(parts)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in _SIGNATURE])
    return urlunsplit((parts.scheme, "cdn.discordapp.com", parts.path, query, ""))


def message_text(message: Mapping[str, Any]) -> str:
    """The words a keyphrase is matched against: content, embed titles and
    descriptions, attachment names and descriptions (alt text), of the message
    and of the messages it forwards."""
    bodies = [message]
    bodies += [
        s["message"]
        for s in _dicts(message.get("message_snapshots"))
        if isinstance(s.get("message"), Mapping)
    ]
    pieces: list[object] = []
    for body in bodies:
        pieces.append(body.get("content"))
        for embed in _dicts(body.get("embeds")):
            pieces += [embed.get("title"), embed.get("description")]
        for attachment in _dicts(body.get("attachments")):
            pieces += [attachment.get("filename"), attachment.get("description")]
    return "\n".join(piece for piece in pieces if isinstance(piece, str))


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _is_image_attachment(attachment: Mapping[str, Any], url: str) -> bool:
    content_type = attachment.get("content_type")
    if isinstance(content_type, str) and content_type.strip():
        # The type decides: an image named "image" with no extension is an
        # image, a video named "clip.png" is not.
        return is_image_type(content_type)
    filename = text(attachment.get("filename")) or ""
    return has_image_extension(url) or has_image_extension(f"https://x/{filename}")


def _title(message: Mapping[str, Any], fallback: str | None) -> str | None:
    content = text(message.get("content"))
    if content:
        first = content.splitlines()[0].strip()
        return first[:_TITLE_LENGTH]
    return fallback


def _images(message: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, MetadataValue | None]]]:
    """``(image_url, per-image fields)`` for every image in one message body."""
    for attachment in _dicts(message.get("attachments")):
        url = http_url(attachment.get("url")) or http_url(attachment.get("proxy_url"))
        if url is None or not _is_image_attachment(attachment, url):
            continue
        flags = attachment.get("flags")
        spoiler = isinstance(flags, int) and bool(flags & _SPOILER)
        yield (
            url,
            {
                "image_kind": "attachment",
                "attachment_id": text(attachment.get("id")),
                "filename": text(attachment.get("filename")),
                "content_type": text(attachment.get("content_type")),
                "alt_text": text(attachment.get("description")),
                "spoiler": True if spoiler else None,
                "width": positive_int(attachment.get("width")),
                "height": positive_int(attachment.get("height")),
            },
        )
    for embed in _dicts(message.get("embeds")):
        if embed.get("type", "rich") not in _IMAGE_EMBEDS:
            continue
        for part in ("image", "thumbnail"):
            media = embed.get(part)
            if not isinstance(media, Mapping):
                continue
            url = http_url(media.get("url")) or http_url(media.get("proxy_url"))
            if url is None:
                continue
            yield (
                url,
                {
                    "image_kind": "embed",
                    "embed_title": text(embed.get("title")),
                    "embed_url": http_url(embed.get("url")),
                    "proxy_url": http_url(media.get("proxy_url")),
                    "width": positive_int(media.get("width")),
                    "height": positive_int(media.get("height")),
                },
            )


def candidates_from_message(
    message: Mapping[str, Any], channel: ChannelInfo, *, words: tuple[str, ...] = ()
) -> Iterator[ImageCandidate]:
    """The images of one message (and of the messages it forwards) as candidates.

    ``words`` (case-folded) must all occur in the message's text; none means
    every image. ``position`` is left for the caller to number.
    """
    message_id = text(message.get("id"))
    if message_id is None:
        return
    if words and not matches_words(words, message_text(message)):
        return
    raw_author = message.get("author")
    author: Mapping[str, Any] = raw_author if isinstance(raw_author, Mapping) else {}
    posted = text(message.get("timestamp"))
    shared: dict[str, MetadataValue | None] = {
        "source": "discord",
        "guild_id": channel.guild_id,
        "channel_id": channel.channel_id,
        "channel_name": channel.name,
        "message_id": message_id,
        "author": text(author.get("username")),
        "author_name": text(author.get("global_name")),
        "author_id": text(author.get("id")),
        "posted_at": posted,
        "posted_at_unix": unix_time(posted),
    }
    bodies: list[tuple[Mapping[str, Any], bool]] = [(message, False)]
    for snapshot in _dicts(message.get("message_snapshots")):
        inner = snapshot.get("message")
        if isinstance(inner, Mapping):
            bodies.append((inner, True))
    page = jump_link(channel.guild_id, channel.channel_id, message_id)
    for body, forwarded in bodies:
        for url, fields in _images(body):
            width, height = fields.pop("width"), fields.pop("height")
            fallback = fields.get("filename") or fields.get("embed_title")
            extra = compact({**shared, **fields, "forwarded": True if forwarded else None})
            yield ImageCandidate(
                image_url=url,
                identity=dedup_key(url),
                page_url=page,
                title=_title(message, None)
                or _title(body, fallback if isinstance(fallback, str) else None),
                domain="discord.com",
                width=width if isinstance(width, int) else None,
                height=height if isinstance(height, int) else None,
                extra=extra,
            )
