"""DiscordSource: the images posted in Discord channels a bot can read."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from img2img.arguments import check_timeout
from img2img.errors import ConfigurationError, ServiceError
from img2img.models import ImageCandidate
from img2img.net.retry import RetryPolicy
from img2img.options import (
    Option,
    OptionError,
    OptionValues,
    iso_time,
    positive_int,
    require_env,
    utc,
)
from img2img.sources.discord.api import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    TOKEN_ENV,
    TOKEN_HELP,
    DiscordApi,
)
from img2img.sources.discord.messages import ChannelInfo, candidates_from_message, dedup_key
from img2img.sources.fields import http_url, keyphrase_words, text
from img2img.sources.paging import numbered
from img2img.sources.parts import PartFailure, PartLog
from img2img.sources.settings import required_setting, service_url

__all__ = ["DEFAULT_RETRY", "PAGE_SIZE", "TEXT_CHANNEL_TYPES", "DiscordSource"]

#: Messages per history request: Discord's maximum.
PAGE_SIZE = 100
#: Channel types whose history a server listing reads: text (0) and announcement (5).
TEXT_CHANNEL_TYPES = frozenset({0, 5})
DEFAULT_RETRY = RetryPolicy(attempts=5, base_delay=1.0, max_delay=60.0)
# Snowflakes count milliseconds from the first second of 2015.
_DISCORD_EPOCH_MS = 1_420_070_400_000
_SNOWFLAKE = re.compile(r"^\d{1,20}$")
_CHANNEL_LINK = re.compile(r"^/channels/(?:\d+|@me)/(\d+)(?:/\d+)?/?$")


def _snowflake(value: str | int, what: str) -> str:
    """The id in ``value``: digits, or a ``discord.com/channels/...`` link's channel."""
    candidate = str(value).strip()
    if _SNOWFLAKE.match(candidate):
        return candidate
    url = http_url(candidate)
    if url is not None and what == "channel":
        parts = urlsplit(url)
        found = _CHANNEL_LINK.match(parts.path)
        if (parts.hostname or "").endswith("discord.com") and found:
            return found.group(1)
    raise ConfigurationError(f"not a Discord {what} id: {value!r}")


def _sent_at_ms(snowflake: str) -> int:
    return (int(snowflake) >> 22) + _DISCORD_EPOCH_MS


class DiscordSource:
    """An ``ImageSource`` over the message history of Discord channels.

    Args:
        channels: channel ids (or channel links copied from Discord) to read.
        guilds: server ids whose text and announcement channels are all read;
            the ones the bot may not see are skipped.
        token: the bot token; defaults to ``DISCORD_BOT_TOKEN``, read when
            ``discover`` is called. Sent only in the ``Authorization`` header.
        since: only messages sent at or after this time (a ``datetime``; naive
            means UTC). Paging stops at the first older message.
        max_messages: read at most this many messages of each channel.
        timeout: seconds for one request.
        retry: tries and waits for 429, 5xx and network failures (default 5
            tries; a 429's ``retry_after`` is obeyed up to 60 s).
        base_url: the REST API; defaults to ``DISCORD_BASE_URL`` (a gateway or
            a rate-limit proxy), else ``https://discord.com/api/v10``. Tests
            point it at :class:`img2img.testing.fake_discord.FakeDiscord`.
        sleep: how to wait for rate limits (tests pass a recorder).

    ``discover(keyphrase)`` reads each channel's history newest first, 100
    messages a request, paging back with ``before``; it yields the images of
    messages whose text holds every word of the keyphrase (an empty keyphrase
    takes every image): image attachments, decided by ``content_type`` (so a
    file without an extension counts), and embedded images. The page of each
    candidate is the message's jump link; guild, channel, author and time go
    into ``extra``. An image seen in an earlier message is not yielded again.

    A channel that was deleted (404) or that the bot may not read (403) is
    skipped and listed in :attr:`failures`; if no channel could be read, its
    error is raised. A token Discord refuses raises
    :class:`~img2img.errors.AuthenticationError` naming ``DISCORD_BOT_TOKEN``.
    """

    command_title = "Discord"
    command_note = "needs DISCORD_BOT_TOKEN; an empty KEYPHRASE takes every image"
    command_options = (
        Option(
            "channel",
            "a channel id, or a link copied from Discord; repeatable",
            metavar="ID|LINK",
            repeatable=True,
        ),
        Option(
            "guild", "every text channel of a server; repeatable", metavar="ID", repeatable=True
        ),
        Option("max-messages", "read at most N messages a channel", metavar="N", type=positive_int),
        Option("since", "only messages or posts from this date or time on", "ISO", iso_time),
    )

    @classmethod
    def from_options(cls, values: OptionValues, *, keyphrase: str) -> DiscordSource:
        """The source ``img2img index --source discord`` builds from its options."""
        if not values.get("channel") and not values.get("guild"):
            raise OptionError("--source discord needs --channel ID or --guild ID (repeatable)")
        require_env(
            "DISCORD_BOT_TOKEN",
            "index --source discord reads channels through a bot",
            "to your bot's token (Discord Developer Portal -> your application -> Bot -> Reset Token)",
        )
        since = values.get("since")
        return cls(
            channels=values.get("channel", ()),
            guilds=values.get("guild", ()),
            since=utc(since) if since else None,
            max_messages=values.get("max_messages"),
        )

    def __init__(
        self,
        channels: Sequence[str | int] = (),
        *,
        guilds: Sequence[str | int] = (),
        token: str | None = None,
        since: datetime.datetime | None = None,
        max_messages: int | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(channels, (str, int)) or isinstance(guilds, (str, int)):
            raise ConfigurationError("channels and guilds take a list of ids, not one id")
        self.channels = tuple(dict.fromkeys(_snowflake(c, "channel") for c in channels))
        self.guilds = tuple(dict.fromkeys(_snowflake(g, "server") for g in guilds))
        if not self.channels and not self.guilds:
            raise ConfigurationError("DiscordSource needs channels=[...] or guilds=[...] to read")
        if max_messages is not None and max_messages < 1:
            raise ConfigurationError(f"max_messages must be at least 1, got {max_messages}")
        self.timeout = check_timeout(timeout)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=datetime.timezone.utc)
        self.since = since
        self.max_messages = max_messages
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._token = token
        self._sleep = sleep
        #: Channels the last ``discover`` call skipped, and why.
        self.failures: list[PartFailure] = []

    def __repr__(self) -> str:
        # Never the token: reprs end up in logs.
        return (
            f"DiscordSource(channels={list(self.channels)!r}, guilds={list(self.guilds)!r}, "
            f"base_url={self.base_url!r})"
        )

    def _resolve_token(self) -> str:
        problem = f"DiscordSource needs a bot token: {TOKEN_HELP}"
        return required_setting(self._token, TOKEN_ENV, problem, scheme="Bot ")

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` distinct images from messages matching ``keyphrase``.

        Checks the token at once (raising :class:`~img2img.errors.ConfigurationError`
        when there is none), before any request is sent.
        """
        token = self._resolve_token()
        self.failures = []
        return self._discover(token, keyphrase_words(keyphrase), limit)

    def _discover(self, token: str, words: tuple[str, ...], limit: int) -> Iterator[ImageCandidate]:
        if limit < 1:
            return
        parts = PartLog("Discord")
        self.failures = parts.failures
        api = DiscordApi(
            token=token,
            base_url=self.base_url,
            timeout=self.timeout,
            retry=self.retry,
            sleep=self._sleep,
        )
        try:
            yield from numbered(self._candidates(api, words, parts), dedup_key, limit)
        finally:
            api.close()

    def _candidates(
        self, api: DiscordApi, words: tuple[str, ...], parts: PartLog
    ) -> Iterator[ImageCandidate]:
        """The images of every matching message of every readable channel, repeats included."""
        for channel in self._channels(api, parts):
            try:
                for message in self._history(api, channel, parts):
                    yield from candidates_from_message(message, channel, words=words)
            except ServiceError as exc:
                if exc.status_code not in (403, 404):
                    raise
                parts.skip(f"channel {channel.channel_id}", exc)
        parts.finish()

    def _channels(self, api: DiscordApi, parts: PartLog) -> Iterator[ChannelInfo]:
        """The channels to read: those named, then those of the servers named."""
        listed: set[str] = set()
        for channel_id in self.channels:
            listed.add(channel_id)
            try:
                info = _channel_info(api.channel(channel_id), channel_id)
            except ServiceError as exc:
                if exc.status_code not in (403, 404):
                    raise
                parts.skip(f"channel {channel_id}", exc)
                continue
            yield info
        for guild_id in self.guilds:
            try:
                channels = api.guild_channels(guild_id)
            except ServiceError as exc:
                if exc.status_code not in (403, 404):
                    raise
                parts.skip(f"server {guild_id}", exc)
                continue
            for raw in _text_channels(channels):
                info = _channel_info(raw, str(raw["id"]), guild_id)
                if info.channel_id not in listed:
                    listed.add(info.channel_id)
                    yield info

    def _history(
        self, api: DiscordApi, channel: ChannelInfo, parts: PartLog
    ) -> Iterator[Mapping[str, Any]]:
        """The channel's messages, newest first, until its start, ``since`` or ``max_messages``."""
        since_ms = int(self.since.timestamp() * 1000) if self.since else None
        before: str | None = None
        read = 0
        counted = False
        while True:
            page = api.messages(channel.channel_id, before=before, limit=PAGE_SIZE)
            if not counted:
                # The channel answered: it counts as read even if it is empty.
                parts.read += 1
                counted = True
            ids = [m for m in (text(message.get("id")) for message in page) if m and m.isdigit()]
            for message in page:
                message_id = text(message.get("id"))
                sent_ms = _sent_at_ms(message_id) if message_id and message_id.isdigit() else None
                if since_ms is not None and sent_ms is not None and sent_ms < since_ms:
                    return
                yield message
                read += 1
                if self.max_messages is not None and read >= self.max_messages:
                    return
            if len(page) < PAGE_SIZE or not ids:
                return
            # Pages come newest first, but ids order messages regardless.
            before = min(ids, key=int)


def _text_channels(channels: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for channel in channels:
        if channel.get("type") in TEXT_CHANNEL_TYPES and _SNOWFLAKE.match(str(channel.get("id"))):
            yield channel


def _channel_info(
    channel: Mapping[str, Any], channel_id: str, guild_id: str | None = None
) -> ChannelInfo:
    return ChannelInfo(
        channel_id=channel_id,
        guild_id=text(channel.get("guild_id")) or guild_id,
        name=text(channel.get("name")),
    )
