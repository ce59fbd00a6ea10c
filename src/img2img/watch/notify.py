"""Telling a webhook what a check found: one JSON POST of the new postings.

The body is what Discord's and Slack's incoming webhooks take as it is
(``content`` for Discord, ``text`` for Slack: the same lines of text), with
the postings themselves under ``new`` and ``gone`` for any other receiver::

    {"content": "2 new postings of my art: ...", "text": "...",
     "new": [{"picture": "my art", "page_url": ..., "image_url": ..., "found_by": [...]}],
     "gone": [...]}

The POST goes through the fetcher's guard: the webhook's address must be
public (or inside ``allowed_networks``), as any address img2img connects to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from img2img.errors import ConfigurationError, FetchError, ServiceError
from img2img.net.guard import AddressPolicy
from img2img.net.transport import GuardedTransport
from img2img.watch.check import WatchCheck

__all__ = ["DISCORD_CONTENT_LIMIT", "notify_webhook", "webhook_body"]

#: Discord refuses a ``content`` longer than this.
DISCORD_CONTENT_LIMIT = 2000


def _lines(check: WatchCheck) -> list[str]:
    lines = []
    for picture in check.pictures:
        for posting in picture.new:
            where = posting.page_url or posting.image_url
            lines.append(f"new: {picture.picture.label} at {where}")
        for posting in picture.gone:
            where = posting.page_url or posting.image_url
            lines.append(f"gone: {picture.picture.label} from {where}")
    return lines


def webhook_body(check: WatchCheck) -> dict[str, Any]:
    """The JSON a webhook receives for ``check``."""
    lines = _lines(check)
    summary = f"img2img watch: {len(check.new)} new, {len(check.gone)} gone"
    text = "\n".join([summary, *lines])
    if len(text) > DISCORD_CONTENT_LIMIT:
        text = text[: DISCORD_CONTENT_LIMIT - 2] + " …"

    def rows(which: str) -> Iterable[dict[str, Any]]:
        for picture in check.pictures:
            for posting in getattr(picture, which):
                yield {
                    "picture": picture.picture.label,
                    "picture_id": picture.picture.id,
                    "page_url": posting.page_url,
                    "image_url": posting.image_url,
                    "domain": posting.domain,
                    "relation": posting.relation,
                    "found_by": list(posting.found_by),
                    "first_seen": posting.first_seen,
                }

    return {"content": text, "text": text, "new": list(rows("new")), "gone": list(rows("gone"))}


def notify_webhook(
    url: str,
    check: WatchCheck,
    *,
    allowed_networks: Iterable[str] = (),
    timeout: float = 15.0,
) -> None:
    """POST :func:`webhook_body` to ``url``, through the guard.

    Raises:
        ConfigurationError: a URL that is not ``http(s)``.
        BlockedURLError: an address the guard refuses (private, loopback, metadata).
        ServiceError: the receiver did not answer 2xx.
    """
    policy = AddressPolicy(allowed_networks=allowed_networks)
    try:
        checked = policy.check_url(url)
    except FetchError as exc:
        if type(exc) is FetchError:
            raise ConfigurationError(f"not a webhook URL: {exc}") from exc
        raise
    transport = GuardedTransport(policy, limits=httpx.Limits(max_connections=1))
    try:
        with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False) as client:
            response = client.post(str(checked), json=webhook_body(check))
    except httpx.HTTPError as exc:
        raise ServiceError(f"the webhook could not be reached: {type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        raise ServiceError(
            f"the webhook answered HTTP {response.status_code}", status_code=response.status_code
        )
