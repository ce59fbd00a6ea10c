"""The Discord REST calls DiscordSource makes, and what their errors mean.

Discord answers errors with ``{"message": "...", "code": N}`` (``10003``
Unknown Channel, ``50001`` Missing Access, ``50013`` Missing Permissions) and
429s with ``{"retry_after": seconds, "global": bool}`` beside the
``X-RateLimit-*`` headers. Those headers are read on every response, so a
spent bucket is waited out before the next request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from img2img._version import __version__
from img2img.errors import AuthenticationError, ServiceError
from img2img.net.api_client import ApiClient, ApiReply, RateLimit
from img2img.net.retry import RetryPolicy
from img2img.sources.fields import number

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "TOKEN_ENV",
    "TOKEN_HELP",
    "DiscordApi",
    "discord_limits",
]

DEFAULT_BASE_URL = "https://discord.com/api/v10"
#: Where the REST API is when ``base_url`` is not given: a gateway or a rate-limit proxy.
BASE_URL_ENV = "DISCORD_BASE_URL"
TOKEN_ENV = "DISCORD_BOT_TOKEN"
TOKEN_HELP = (
    f"set the {TOKEN_ENV} environment variable (or pass DiscordSource(token=...)) to your "
    "bot's token: Discord Developer Portal -> your application -> Bot -> Reset Token"
)
READ_HELP = (
    "invite the bot to the server and give it View Channel and Read Message History in this channel"
)
# Discord asks bots to name themselves this way: "DiscordBot ($url, $version)".
USER_AGENT = f"DiscordBot (https://github.com/img2img/img2img, {__version__})"


def discord_limits(response: httpx.Response, payload: Any) -> RateLimit:
    """The bucket state from ``X-RateLimit-*`` headers, and a 429 body's ``retry_after``."""
    retry_after = number(payload.get("retry_after")) if isinstance(payload, Mapping) else None
    return RateLimit(
        remaining=number(response.headers.get("X-RateLimit-Remaining")),
        reset_after=number(response.headers.get("X-RateLimit-Reset-After")),
        retry_after=retry_after,
    )


def _detail(reply: ApiReply) -> str:
    payload = reply.payload
    if isinstance(payload, Mapping) and isinstance(payload.get("message"), str):
        code = payload.get("code")
        return f"{payload['message']} (HTTP {reply.status}, code {code})"
    return f"HTTP {reply.status}"


class DiscordApi:
    """``GET`` calls against Discord's REST API with a bot token.

    Raises :class:`AuthenticationError` for a token Discord refuses (401) and
    for a channel the bot may not read (403, ``status_code`` 403), and
    :class:`ServiceError` with ``status_code`` 404 for a channel that does not
    exist or was deleted.
    """

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self._client = ApiClient(
            service="Discord",
            base_url=base_url,
            headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT},
            timeout=timeout,
            retry=retry,
            limits=discord_limits,
            secrets=[token],
            sleep=sleep,
        )

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        reply = self._client.get(path, params)
        if reply.ok:
            return reply.payload
        detail = _detail(reply)
        if reply.status == 401:
            raise AuthenticationError(
                f"Discord refused the bot token ({detail}): {TOKEN_HELP}", status_code=401
            )
        if reply.status == 403:
            raise AuthenticationError(
                f"the bot may not read {what} ({detail}): {READ_HELP}", status_code=403
            )
        if reply.status == 404:
            raise ServiceError(
                f"Discord has no {what} ({detail}): it was deleted, or the id is wrong",
                status_code=404,
            )
        raise ServiceError(f"Discord refused to list {what}: {detail}", status_code=reply.status)

    def channel(self, channel_id: str) -> Mapping[str, Any]:
        """The channel object (``GET /channels/{id}``): its guild, name and type."""
        payload = self._get(f"/channels/{channel_id}", f"channel {channel_id}")
        if not isinstance(payload, Mapping):
            raise ServiceError(f"Discord sent channel {channel_id} as something not an object")
        return payload

    def guild_channels(self, guild_id: str) -> list[Mapping[str, Any]]:
        """The channels of a server (``GET /guilds/{id}/channels``)."""
        payload = self._get(f"/guilds/{guild_id}/channels", f"server {guild_id}")
        if not isinstance(payload, list):
            raise ServiceError(f"Discord sent the channels of {guild_id} as something not a list")
        return [item for item in payload if isinstance(item, Mapping)]

    def messages(
        self, channel_id: str, *, before: str | None, limit: int
    ) -> list[Mapping[str, Any]]:
        """Up to ``limit`` messages older than ``before``, newest first
        (``GET /channels/{id}/messages``)."""
        params = {"limit": str(limit)}
        if before is not None:
            params["before"] = before
        payload = self._get(f"/channels/{channel_id}/messages", f"channel {channel_id}", params)
        if not isinstance(payload, list):
            raise ServiceError(f"Discord sent the messages of {channel_id} as something not a list")
        return [item for item in payload if isinstance(item, Mapping)]
