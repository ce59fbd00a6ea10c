"""PatreonSource: the images in a creator's Patreon posts, through the Patreon API v2."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from img2img.arguments import check_timeout
from img2img.errors import AuthenticationError, ConfigurationError, ServiceError
from img2img.models import ImageCandidate
from img2img.net.api_client import ApiClient, ApiReply, RateLimit
from img2img.net.fetch import DEFAULT_USER_AGENT
from img2img.net.retry import RetryPolicy
from img2img.options import (
    Option,
    OptionValues,
    require_env,
)
from img2img.sources.fields import keyphrase_words, text
from img2img.sources.paging import follow_cursor, numbered
from img2img.sources.parts import PartFailure, PartLog
from img2img.sources.patreon.posts import candidates_from_post, dedup_key
from img2img.sources.settings import required_setting, service_url

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "PAGE_SIZE",
    "POST_FIELDS",
    "TOKEN_ENV",
    "PatreonSource",
    "patreon_limits",
]

DEFAULT_BASE_URL = "https://www.patreon.com"
#: Where Patreon is when ``base_url`` is not given: a gateway, say.
BASE_URL_ENV = "PATREON_BASE_URL"
TOKEN_ENV = "PATREON_ACCESS_TOKEN"
TOKEN_HELP = (
    f"set {TOKEN_ENV} (or pass PatreonSource(access_token=...)) to your creator access "
    "token: https://www.patreon.com/portal/registration/register-clients -> your client "
    "-> Creator's Access Token"
)
#: Posts per request.
PAGE_SIZE = 50
#: The documented post attributes requested: API v2 sends only the fields named,
#: and refuses names it does not know.
POST_FIELDS = "title,content,url,published_at,embed_data,embed_url,is_public,is_paid"
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=2.0, max_delay=60.0)
_API = "/api/oauth2/v2"
#: The resources a page of posts included, by ``(type, id)``: their attributes.
_Included = dict[tuple[str, str], Mapping[str, Any]]
#: A post, and what its page included.
_Post = tuple[Mapping[str, Any], _Included]


def _errors(payload: Any) -> list[Mapping[str, Any]]:
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    return [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []


def patreon_limits(response: httpx.Response, payload: Any) -> RateLimit:
    """A 429's ``retry_after_seconds``, when its JSON:API error carries one."""
    for error in _errors(payload):
        wait = error.get("retry_after_seconds")
        if isinstance(wait, (int, float)) and not isinstance(wait, bool):
            return RateLimit(retry_after=float(wait))
    return RateLimit()


def _detail(reply: ApiReply) -> str:
    for error in _errors(reply.payload):
        name = text(error.get("code_name")) or text(error.get("title"))
        detail = text(error.get("detail"))
        if name or detail:
            return f"HTTP {reply.status}, {': '.join(p for p in (name, detail) if p)}"
    return f"HTTP {reply.status}"


class PatreonSource:
    """An ``ImageSource`` over the posts of Patreon campaigns the token's creator owns.

    Args:
        campaigns: campaign ids to read; empty reads every campaign of the
            token (``GET /api/oauth2/v2/campaigns``; a creator has one).
        access_token: the creator access token (scope ``campaigns.posts``);
            defaults to ``PATREON_ACCESS_TOKEN``, read when ``discover`` is
            called. Sent only in the ``Authorization`` header.
        timeout, retry: per request; 429 and 5xx are retried.
        base_url: where Patreon is; defaults to ``PATREON_BASE_URL``, else
            ``https://www.patreon.com``. Tests point it at
            :class:`img2img.testing.fake_patreon.FakePatreon`.
        sleep: how to wait for rate limits (tests pass a recorder).

    ``discover(keyphrase)`` reads each campaign's posts
    (``GET /api/oauth2/v2/campaigns/{id}/posts``) with the documented
    ``fields[post]``, the post's user and campaign ``include``-d, paging with
    the ``page[cursor]`` Patreon returns in ``meta.pagination.cursors.next``.
    Posts whose title, text or embed hold every word of the keyphrase give
    their images (an empty keyphrase takes every post): ``<img>`` tags of the
    content and an embedded image link. The page is the post's URL.
    """

    command_title = "Patreon"
    command_note = "needs PATREON_ACCESS_TOKEN; an empty KEYPHRASE takes every image"
    command_options = (
        Option(
            "campaign",
            "a campaign id; repeatable (default: the token's own campaigns)",
            metavar="ID",
            repeatable=True,
        ),
    )

    @classmethod
    def from_options(cls, values: OptionValues, *, keyphrase: str) -> PatreonSource:
        """The source ``img2img index --source patreon`` builds from its options."""
        require_env(
            "PATREON_ACCESS_TOKEN",
            "index --source patreon reads posts as their creator",
            "to the campaign creator's access token (https://www.patreon.com/portal/"
            "registration/register-clients -> Creator's Access Token)",
        )
        return cls(campaigns=values.get("campaign", ()))

    def __init__(
        self,
        campaigns: Sequence[str | int] = (),
        *,
        access_token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(campaigns, (str, int)):
            raise ConfigurationError("campaigns takes a list of ids, not one id")
        cleaned = [str(c).strip() for c in campaigns]
        for campaign in cleaned:
            if not campaign.isdigit():
                raise ConfigurationError(f"not a Patreon campaign id: {campaign!r}")
        self.timeout = check_timeout(timeout)
        self.campaigns = tuple(dict.fromkeys(cleaned))
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._token = access_token
        self._sleep = sleep
        #: Campaigns the last ``discover`` call skipped, and why.
        self.failures: list[PartFailure] = []

    def __repr__(self) -> str:
        return f"PatreonSource(campaigns={list(self.campaigns)!r}, base_url={self.base_url!r})"

    def _resolve_token(self) -> str:
        problem = f"PatreonSource needs an access token: {TOKEN_HELP}"
        return required_setting(self._token, TOKEN_ENV, problem, scheme="Bearer ")

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` distinct images of posts matching ``keyphrase``, newest
        campaign pages first as Patreon orders them."""
        token = self._resolve_token()
        self.failures = []
        return self._discover(token, keyphrase_words(keyphrase), limit)

    def _get(self, api: ApiClient, path: str, what: str, params: Mapping[str, str]) -> Any:
        reply = api.get(path, params)
        if reply.ok:
            return reply.payload
        detail = _detail(reply)
        if reply.status == 401:
            raise AuthenticationError(
                f"Patreon refused the access token ({detail}): {TOKEN_HELP}", status_code=401
            )
        if reply.status == 403:
            raise AuthenticationError(
                f"the token may not read {what} ({detail}): a creator access token reads "
                "only its own campaign's posts (scope campaigns.posts)",
                status_code=403,
            )
        if reply.status in (404, 410):
            raise ServiceError(f"Patreon has no {what} ({detail})", status_code=404)
        raise ServiceError(f"Patreon failed on {what}: {detail}", status_code=reply.status)

    def _campaign_ids(self, api: ApiClient) -> list[str]:
        if self.campaigns:
            return list(self.campaigns)
        payload = self._get(
            api, f"{_API}/campaigns", "the token's campaigns", {"fields[campaign]": "vanity,url"}
        )
        data = payload.get("data") if isinstance(payload, Mapping) else None
        found = [
            str(item["id"])
            for item in (data if isinstance(data, list) else [])
            if isinstance(item, Mapping) and text(item.get("id"))
        ]
        if not found:
            raise ConfigurationError("the Patreon token owns no campaign: pass campaigns=[...]")
        return found

    def _discover(self, token: str, words: tuple[str, ...], limit: int) -> Iterator[ImageCandidate]:
        if limit < 1:
            return
        parts = PartLog("Patreon")
        self.failures = parts.failures
        api = ApiClient(
            service="Patreon",
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                # Patreon refuses requests without a User-Agent.
                "User-Agent": DEFAULT_USER_AGENT,
            },
            timeout=self.timeout,
            retry=self.retry,
            limits=patreon_limits,
            secrets=[token],
            sleep=self._sleep,
        )
        try:
            yield from numbered(self._candidates(api, words, parts), dedup_key, limit)
        finally:
            api.close()

    def _candidates(
        self, api: ApiClient, words: tuple[str, ...], parts: PartLog
    ) -> Iterator[ImageCandidate]:
        """The images of every matching post of every readable campaign, repeats included."""
        for campaign_id in self._campaign_ids(api):
            try:
                for post, included in self._posts(api, campaign_id, parts):
                    yield from candidates_from_post(
                        post, campaign_id=campaign_id, included=included, words=words
                    )
            except ServiceError as exc:
                if exc.status_code not in (403, 404) or exc.status_code == 401:
                    raise
                parts.skip(f"campaign {campaign_id}", exc)
        parts.finish()

    def _posts(self, api: ApiClient, campaign_id: str, parts: PartLog) -> Iterator[_Post]:
        """The campaign's posts, each with the resources its page included."""

        def page(cursor: str | None) -> tuple[list[_Post], str | None]:
            params = {
                "fields[post]": POST_FIELDS,
                "include": "user,campaign",
                "fields[user]": "full_name,vanity",
                "fields[campaign]": "vanity,url",
                "page[count]": str(PAGE_SIZE),
            }
            if cursor is not None:
                params["page[cursor]"] = cursor
            payload = self._get(
                api, f"{_API}/campaigns/{campaign_id}/posts", f"campaign {campaign_id}", params
            )
            if cursor is None:
                parts.read += 1
            if not isinstance(payload, Mapping):
                raise ServiceError(f"Patreon sent campaign {campaign_id}'s posts as a non-object")
            included = _included(payload.get("included"))
            data = payload.get("data")
            posts = [p for p in data if isinstance(p, Mapping)] if isinstance(data, list) else []
            return [(post, included) for post in posts], _next_cursor(payload)

        return follow_cursor(page)


def _included(value: object) -> _Included:
    found: _Included = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("attributes"), Mapping):
            found[(str(item.get("type")), str(item.get("id")))] = item["attributes"]
    return found


def _next_cursor(payload: Mapping[str, Any]) -> str | None:
    meta = payload.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
    cursors = pagination.get("cursors") if isinstance(pagination, Mapping) else None
    return text(cursors.get("next")) if isinstance(cursors, Mapping) else None
