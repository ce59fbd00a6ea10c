"""FakeDiscord: the parts of Discord's REST API and CDN that DiscordSource reads, on 127.0.0.1.

    with FakeDiscord() as discord:
        discord.add_channel("1100", guild_id="900", name="fan-art")
        discord.post("1100", "my eiffel tower sketch", files=[("sketch.png", png_bytes)])
        source = discord.source(channels=["1100"])
        (candidate,) = source.discover("eiffel tower")

It serves, in the shapes Discord's documentation gives:

- ``GET /api/v10/channels/{id}``: the channel object;
- ``GET /api/v10/channels/{id}/messages?limit=&before=``: messages newest first;
- ``GET /api/v10/guilds/{id}/channels``: a server's channels;
- ``GET /attachments/{channel}/{message}/{filename}?ex=&is=&hm=``: the files
  posted with :meth:`FakeDiscord.post`, refused without a signature as the
  real CDN refuses unsigned links.

Errors have Discord's bodies: 401 for a wrong bot token, 403 Missing Access
for a channel made unreadable with :meth:`forbid`, 404 Unknown Channel for a
deleted or unknown one, 429 with ``retry_after`` and ``X-RateLimit-*``
headers. With ``bucket_size`` set, every response carries the bucket headers
and a client that does not wait out a spent bucket gets 429s; pass a
:class:`~img2img.testing.clock.ManualClock`'s ``now`` as ``clock`` to test
that without waiting. Replies queued with :meth:`queue` are served first.
"""

from __future__ import annotations

import datetime
import hashlib
import mimetypes
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from img2img.testing.discord_objects import (
    START,
    discord_attachment,
    discord_message,
    signed_cdn_url,
    snowflake,
)
from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.service import FakeService, RateWindow

if TYPE_CHECKING:
    from img2img.sources.discord.source import DiscordSource

__all__ = ["API_PREFIX", "FakeDiscord"]

API_PREFIX = "/api/v10"


def _error(status: int, message: str, code: int) -> Reply:
    return Reply.json({"message": message, "code": code}, status=status)


class FakeDiscord(FakeService):
    """A loopback Discord: channels, message history, servers and an attachment CDN.

    Args:
        token: the only bot token accepted (sent as ``Authorization: Bot <token>``).
        bucket_size: requests allowed per ``window`` seconds (0: no limit).
        window: seconds a rate-limit bucket lasts.
        clock: the time the buckets follow (``time.monotonic`` by default).
    """

    UNAUTHORIZED = "401: Unauthorized"

    def __init__(
        self,
        *,
        token: str = "fake-discord-bot-token",
        bucket_size: int = 0,
        window: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.token = token
        self.bucket_size = bucket_size
        self.window = window
        self._channels: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._forbidden: set[str] = set()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._window = RateWindow(clock)
        self._next_time = START

    # -- building the world --------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        guild_id: str | None = "613425648685547541",
        name: str = "general",
        kind: int = 0,
        messages: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Create a channel (``kind`` 0 text, 5 announcement, 2 voice, 4 category…)."""
        channel: dict[str, Any] = {
            "id": channel_id,
            "type": kind,
            "name": name,
            "position": len(self._channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        if guild_id is not None:
            channel["guild_id"] = guild_id
        with self._lock:
            self._channels[channel_id] = channel
            self._messages.setdefault(channel_id, [])
        self.add_messages(channel_id, messages)

    def add_messages(self, channel_id: str, messages: Sequence[Mapping[str, Any]]) -> None:
        """Add recorded or built message objects to a channel's history."""
        with self._lock:
            history = self._messages[channel_id]
            history.extend(dict(m) for m in messages)
            history.sort(key=lambda m: int(m["id"]))

    def post(
        self,
        channel_id: str,
        content: str = "",
        *,
        author: str = "someone",
        files: Sequence[tuple[str, bytes] | tuple[str, bytes, str | None]] = (),
        embeds: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """Post a message, uploading ``files`` (``(filename, bytes[, content_type])``)
        to this server's CDN; returns the message object. Each post is a minute
        after the previous one."""
        with self._lock:
            when = self._next_time
            self._next_time += datetime.timedelta(minutes=1)
            count = sum(len(h) for h in self._messages.values())
        message_id = snowflake(when, count)
        attachments = []
        for n, file in enumerate(files):
            filename, data = file[0], file[1]
            content_type = file[2] if len(file) == 3 else mimetypes.guess_type(filename)[0]
            path = f"/attachments/{channel_id}/{message_id}/{filename}"
            with self._lock:
                self._files[path] = (data, content_type or "application/octet-stream")
            width, height = _image_size(data)
            attachments.append(
                discord_attachment(
                    snowflake(when, count + n + 1),
                    filename,
                    signed_cdn_url(self.url, path, issued=int(when.timestamp())),
                    content_type=content_type,
                    width=width,
                    height=height,
                    size=len(data),
                )
            )
        message = discord_message(
            message_id,
            channel_id,
            content,
            author=author,
            author_id=str(int(hashlib.sha256(author.encode()).hexdigest()[:14], 16)),
            attachments=attachments,
            embeds=embeds,
            when=when,
        )
        self.add_messages(channel_id, [message])
        return message

    def populate(self, channel_id: str, count: int, *, text: str = "eiffel tower") -> None:
        """Fill a channel with ``count`` messages, each ``"<text> #n"`` with one PNG
        attachment on ``cdn.discordapp.com`` (not served here: for listing tests)."""
        slug = "-".join(text.split()) or "image"
        messages = []
        for n in range(count):
            when = START - datetime.timedelta(hours=count - n)
            message_id = snowflake(when, n)
            path = f"/attachments/{channel_id}/{message_id}/{slug}-{n}.png"
            url = signed_cdn_url("https://cdn.discordapp.com", path, issued=int(when.timestamp()))
            attachment = discord_attachment(snowflake(when, n + 1), f"{slug}-{n}.png", url)
            messages.append(
                discord_message(message_id, channel_id, f"{text} #{n}", attachments=[attachment])
            )
        self.add_messages(channel_id, messages)

    def forbid(self, channel_id: str) -> None:
        """From now on the bot may not read this channel (403 Missing Access)."""
        with self._lock:
            self._forbidden.add(channel_id)

    def delete_channel(self, channel_id: str) -> None:
        """Delete a channel: from now on it is an Unknown Channel (404)."""
        with self._lock:
            self._channels.pop(channel_id, None)
            self._messages.pop(channel_id, None)

    # -- test controls -------------------------------------------------------

    @staticmethod
    def rate_limited(retry_after: float = 1.5, *, is_global: bool = False) -> Reply:
        """A 429 as Discord sends it: body ``retry_after`` and the rate-limit headers."""
        headers = {
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": "fake-bucket",
                }
            )
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        return Reply.json({**body, "global": is_global}, status=429, headers=headers)

    def source(self, **options: Any) -> DiscordSource:
        """A :class:`DiscordSource` pointed at this server with its token."""
        from img2img.sources.discord.source import DiscordSource

        options.setdefault("token", self.token)
        return DiscordSource(base_url=self.api_url, **options)

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def api_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(API_PREFIX)]

    # -- the service ---------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Reply:
        # Queued faults are for the API; downloads from the CDN skip them.
        if request.path.startswith("/attachments/"):
            return self._cdn(request)
        return super()._handle(request)

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bot {self.token}":
            return _error(401, self.UNAUTHORIZED, 0)
        limited, headers = self._take_from_bucket()
        if limited is not None:
            return limited
        reply = self._route(request)
        reply.headers.update(headers)
        return reply

    def _take_from_bucket(self) -> tuple[Reply | None, dict[str, str]]:
        if not self.bucket_size:
            return None, {}
        with self._lock:
            allowed, used, reset_after = self._window.take(self.bucket_size, self.window)
        if not allowed:
            return self.rate_limited(reset_after), {}
        return None, {
            "X-RateLimit-Limit": str(self.bucket_size),
            "X-RateLimit-Remaining": str(self.bucket_size - used),
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "fake-bucket",
        }

    def _route(self, request: RecordedRequest) -> Reply:
        parts = request.path[len(API_PREFIX) :].strip("/").split("/")
        if request.method != "GET" or not request.path.startswith(API_PREFIX):
            return _error(405, "405: Method Not Allowed", 0)
        if len(parts) == 2 and parts[0] == "channels":
            return self._channel(parts[1])
        if len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages":
            return self._history(parts[1], request)
        if len(parts) == 3 and parts[0] == "guilds" and parts[2] == "channels":
            return self._guild_channels(parts[1])
        return _error(404, "404: Not Found", 0)

    def _readable(self, channel_id: str) -> Reply | None:
        with self._lock:
            if channel_id not in self._channels:
                return _error(404, "Unknown Channel", 10003)
            if channel_id in self._forbidden:
                return _error(403, "Missing Access", 50001)
        return None

    def _channel(self, channel_id: str) -> Reply:
        refusal = self._readable(channel_id)
        if refusal is not None:
            return refusal
        with self._lock:
            return Reply.json(self._channels[channel_id])

    def _history(self, channel_id: str, request: RecordedRequest) -> Reply:
        refusal = self._readable(channel_id)
        if refusal is not None:
            return refusal
        limit_text = request.param("limit", "50") or "50"
        before = request.param("before")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            return _error(400, "Invalid Form Body", 50035)
        if before is not None and not before.isdigit():
            return _error(400, "Invalid Form Body", 50035)
        with self._lock:
            history = list(self._messages[channel_id])
        if before is not None:
            history = [m for m in history if int(m["id"]) < int(before)]
        newest_first = history[::-1][: int(limit_text)]
        return Reply.json(newest_first)

    def _guild_channels(self, guild_id: str) -> Reply:
        with self._lock:
            channels = [c for c in self._channels.values() if c.get("guild_id") == guild_id]
        if not channels:
            return _error(404, "Unknown Guild", 10004)
        return Reply.json(channels)

    def _cdn(self, request: RecordedRequest) -> Reply:
        with self._lock:
            found = self._files.get(urlsplit(request.path).path)
        if found is None or not all(request.param(k) for k in ("ex", "is", "hm")):
            return Reply(
                status=404,
                body=b"This content is no longer available.",
                headers={"Content-Type": "text/plain"},
            )
        data, content_type = found
        return Reply(body=data, headers={"Content-Type": content_type})


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height of an image file, or ``(None, None)`` for anything else."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return None, None
