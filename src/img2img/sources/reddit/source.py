"""RedditSource: images in Reddit posts, through Reddit's JSON listings and search."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from img2img._version import __version__
from img2img.arguments import check_timeout, check_whole
from img2img.errors import AuthenticationError, ConfigurationError, ServiceError
from img2img.models import ImageCandidate
from img2img.net.api_client import ApiClient, ApiReply, RateLimit
from img2img.net.retry import RetryPolicy
from img2img.options import (
    Option,
    OptionError,
    OptionValues,
    positive_int,
)
from img2img.provenance import normalise_url
from img2img.sources.fields import http_url, text
from img2img.sources.paging import follow_cursor, numbered
from img2img.sources.parts import PartFailure, PartLog
from img2img.sources.reddit.posts import candidates_from_post
from img2img.sources.settings import both_or_neither, service_url, setting

__all__ = [
    "BASE_URL_ENV",
    "CLIENT_ID_ENV",
    "CLIENT_SECRET_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_OAUTH_URL",
    "OAUTH_URL_ENV",
    "PAGE_SIZE",
    "USER_AGENT_ENV",
    "RedditSource",
    "reddit_limits",
]

DEFAULT_BASE_URL = "https://www.reddit.com"
DEFAULT_OAUTH_URL = "https://oauth.reddit.com"
#: Where Reddit's public site and OAuth API are when not given: a gateway, say.
BASE_URL_ENV = "REDDIT_BASE_URL"
OAUTH_URL_ENV = "REDDIT_OAUTH_URL"
CLIENT_ID_ENV = "REDDIT_CLIENT_ID"
CLIENT_SECRET_ENV = "REDDIT_CLIENT_SECRET"
USER_AGENT_ENV = "REDDIT_USER_AGENT"
#: Posts per listing request: Reddit's maximum.
PAGE_SIZE = 100
SORTS = ("relevance", "hot", "top", "new", "comments")
TIME_FILTERS = ("hour", "day", "week", "month", "year", "all")
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=2.0, max_delay=60.0)
# Reddit's rules: "<platform>:<app ID>:<version> (by /u/<username>)"; a user
# running the library should put their own username in REDDIT_USER_AGENT.
DEFAULT_USER_AGENT = f"python:img2img:v{__version__} (reverse image search library)"
CREDENTIALS_HELP = (
    f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} to a Reddit app's id and secret "
    "(https://www.reddit.com/prefs/apps, type 'script'), or pass "
    "RedditSource(client_id=..., client_secret=...)"
)
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def reddit_limits(response: httpx.Response, payload: Any) -> RateLimit:
    """``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` (seconds to the window's end)."""
    return RateLimit(
        remaining=_number(response.headers.get("X-Ratelimit-Remaining")),
        reset_after=_number(response.headers.get("X-Ratelimit-Reset")),
    )


def _subreddit(name: str) -> str:
    """``pics`` from ``pics``, ``r/pics``, ``/r/pics/`` or ``https://www.reddit.com/r/pics``."""
    cleaned = name.strip()
    url = http_url(cleaned)
    if url is not None:
        cleaned = url.split("://", 1)[1].split("/", 1)[-1]
    cleaned = cleaned.strip("/").removeprefix("r/").strip("/")
    if not _SUBREDDIT.match(cleaned):
        raise ConfigurationError(f"not a subreddit name: {name!r}")
    return cleaned


def _reason(reply: ApiReply) -> str | None:
    payload = reply.payload
    if isinstance(payload, Mapping):
        return text(payload.get("reason")) or text(payload.get("message"))
    return None


class RedditSource:
    """An ``ImageSource`` over Reddit posts: search results, or a subreddit's newest.

    Args:
        subreddits: search only these (each one in turn); empty searches all of Reddit.
        sort: ``relevance`` (default), ``hot``, ``top``, ``new`` or ``comments``.
        time_filter: ``hour``, ``day``, ``week``, ``month``, ``year`` or ``all``.
        include_nsfw: also take posts marked over 18 (skipped by default).
        user_agent: the descriptive User-Agent Reddit requires; defaults to
            ``REDDIT_USER_AGENT``, else one naming img2img. Reddit asks for
            ``<platform>:<app id>:<version> (by /u/<your username>)``.
        client_id, client_secret: a Reddit app's credentials; default to
            ``REDDIT_CLIENT_ID`` and ``REDDIT_CLIENT_SECRET``. With them the
            source gets an application-only OAuth token and reads
            ``oauth_url`` (higher rate limits); without them it reads the
            public JSON at ``base_url``.
        max_pages: listing pages read per subreddit at most (Reddit serves
            about 1,000 posts of a listing and fewer of a search).
        timeout, retry: per request; 429 and 5xx are retried, waiting as
            ``Retry-After`` or ``X-Ratelimit-Reset`` say.
        base_url, oauth_url: where Reddit is; default to ``REDDIT_BASE_URL``
            and ``REDDIT_OAUTH_URL``, else ``https://www.reddit.com`` and
            ``https://oauth.reddit.com``. Tests point both at
            :class:`img2img.testing.fake_reddit.FakeReddit`.
        sleep: how to wait for rate limits (tests pass a recorder).

    ``discover(keyphrase)`` searches posts (``type=link``) 100 at a time,
    paging with ``after``; an empty keyphrase reads each subreddit's newest
    posts instead. Gallery images, direct image links and preview images
    become candidates whose page is the post; subreddit, author and time go
    into ``extra``. A private, quarantined or banned subreddit is skipped and
    listed in :attr:`failures` (raised if no subreddit could be read).
    """

    command_title = "Reddit"
    command_note = "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET for OAuth, else public JSON"
    command_options = (
        Option(
            "subreddit",
            "search only this subreddit (its newest posts without a KEYPHRASE); repeatable",
            metavar="NAME",
            repeatable=True,
        ),
        Option(
            "time",
            "how far back to search (default: all)",
            choices=("hour", "day", "week", "month", "year", "all"),
        ),
        Option("nsfw", "also take posts marked over 18", flag=True),
        Option(
            "user-agent",
            "'<platform>:<app id>:<version> (by /u/<you>)', as Reddit asks "
            "(default: $REDDIT_USER_AGENT)",
            metavar="TEXT",
        ),
        Option(
            "sort",
            "relevance (default), hot, top, new, comments",
            metavar="ORDER",
            choices=("relevance", "hot", "top", "new", "comments"),
        ),
        Option("max-pages", "read at most N pages of results (default: 10)", "N", positive_int),
    )

    @classmethod
    def from_options(cls, values: OptionValues, *, keyphrase: str) -> RedditSource:
        """The source ``img2img index --source reddit`` builds from its options."""
        if not keyphrase.strip() and not values.get("subreddit"):
            raise OptionError(
                "--source reddit needs a KEYPHRASE, or --subreddit NAME to read the newest posts of"
            )
        return cls(
            values.get("subreddit", ()),
            sort=values.get("sort", "relevance"),
            time_filter=values.get("time", "all"),
            include_nsfw=bool(values.get("nsfw")),
            user_agent=values.get("user_agent"),
            **({"max_pages": values["max_pages"]} if values.get("max_pages") else {}),
        )

    def __init__(
        self,
        subreddits: Sequence[str] = (),
        *,
        sort: str = "relevance",
        time_filter: str = "all",
        include_nsfw: bool = False,
        user_agent: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        max_pages: int = 10,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        base_url: str | None = None,
        oauth_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(subreddits, str):
            raise ConfigurationError("subreddits takes a list of names, not one string")
        self.subreddits = tuple(dict.fromkeys(_subreddit(name) for name in subreddits))
        if sort not in SORTS:
            raise ConfigurationError(f"sort must be one of {', '.join(SORTS)}; got {sort!r}")
        if time_filter not in TIME_FILTERS:
            raise ConfigurationError(
                f"time_filter must be one of {', '.join(TIME_FILTERS)}; got {time_filter!r}"
            )
        check_whole("max_pages", max_pages)
        check_timeout(timeout)
        self.sort = sort
        self.time_filter = time_filter
        self.include_nsfw = include_nsfw
        self.user_agent = user_agent
        self.max_pages = max_pages
        self.timeout = timeout
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self.oauth_url = service_url(oauth_url, "oauth_url", OAUTH_URL_ENV, DEFAULT_OAUTH_URL)
        self._client_id = client_id
        self._client_secret = client_secret
        self._sleep = sleep
        #: Subreddits the last ``discover`` call skipped, and why.
        self.failures: list[PartFailure] = []

    def __repr__(self) -> str:
        return (
            f"RedditSource(subreddits={list(self.subreddits)!r}, sort={self.sort!r}, "
            f"base_url={self.base_url!r})"
        )

    def _credentials(self) -> tuple[str, str] | None:
        client_id = setting(self._client_id, CLIENT_ID_ENV)
        secret = setting(self._client_secret, CLIENT_SECRET_ENV)
        problem = f"RedditSource needs both a client id and secret: {CREDENTIALS_HELP}"
        return both_or_neither(client_id, secret, problem)

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` distinct images of posts matching ``keyphrase``."""
        if not keyphrase.strip() and not self.subreddits:
            raise ConfigurationError(
                "RedditSource needs a keyphrase, or subreddits to read the newest posts of"
            )
        credentials = self._credentials()
        self.failures = []
        return self._discover(" ".join(keyphrase.split()), limit, credentials)

    def _client(self, credentials: tuple[str, str] | None) -> ApiClient:
        agent = setting(self.user_agent, USER_AGENT_ENV)
        headers = {"User-Agent": agent or DEFAULT_USER_AGENT}
        options: dict[str, Any] = {
            "service": "Reddit",
            "timeout": self.timeout,
            "retry": self.retry,
            "limits": reddit_limits,
            "sleep": self._sleep,
        }
        if credentials is None:
            return ApiClient(base_url=self.base_url, headers=headers, **options)
        with ApiClient(
            base_url=self.base_url, headers=headers, secrets=credentials, **options
        ) as auth:
            reply = auth.request(
                "POST",
                "/api/v1/access_token",
                form={"grant_type": "client_credentials"},
                auth=credentials,
            )
        token = reply.payload.get("access_token") if isinstance(reply.payload, Mapping) else None
        if reply.status in (400, 401, 403) or (reply.ok and not isinstance(token, str)):
            raise AuthenticationError(
                f"Reddit refused the app credentials (HTTP {reply.status}): {CREDENTIALS_HELP}",
                status_code=reply.status,
            )
        if not reply.ok or not isinstance(token, str):
            raise ServiceError(
                f"Reddit token request failed: HTTP {reply.status}", status_code=reply.status
            )
        headers["Authorization"] = f"bearer {token}"
        return ApiClient(
            base_url=self.oauth_url, headers=headers, secrets=[*credentials, token], **options
        )

    def _request(
        self, keyphrase: str, subreddit: str | None, oauth: bool
    ) -> tuple[str, dict[str, str]]:
        suffix = "" if oauth else ".json"
        params = {"limit": str(PAGE_SIZE), "raw_json": "1"}
        if not keyphrase:
            return f"/r/{subreddit}/new{suffix}", params
        params.update({"q": keyphrase, "sort": self.sort, "t": self.time_filter, "type": "link"})
        if self.include_nsfw:
            params["include_over_18"] = "on"
        if subreddit is None:
            return f"/search{suffix}", params
        params["restrict_sr"] = "1"
        return f"/r/{subreddit}/search{suffix}", params

    def _discover(
        self, keyphrase: str, limit: int, credentials: tuple[str, str] | None
    ) -> Iterator[ImageCandidate]:
        if limit < 1:
            return
        parts = PartLog("Reddit")
        self.failures = parts.failures
        api = self._client(credentials)
        try:
            candidates = self._candidates(api, keyphrase, parts, oauth=credentials is not None)
            yield from numbered(candidates, normalise_url, limit)
        finally:
            api.close()

    def _candidates(
        self, api: ApiClient, keyphrase: str, parts: PartLog, *, oauth: bool
    ) -> Iterator[ImageCandidate]:
        """The images of every post found in every readable subreddit, repeats included."""
        targets: Sequence[str | None] = self.subreddits or (None,)
        for subreddit in targets:
            name = f"r/{subreddit}" if subreddit else "Reddit search"
            path, params = self._request(keyphrase, subreddit, oauth)
            try:
                for post in self._posts(api, path, params, parts, oauth=oauth):
                    if post.get("over_18") and not self.include_nsfw:
                        continue
                    yield from candidates_from_post(post)
            except ServiceError as exc:
                if exc.status_code not in (403, 404) or isinstance(exc, AuthenticationError):
                    raise
                parts.skip(name, exc)
        parts.finish()

    def _posts(
        self,
        api: ApiClient,
        path: str,
        params: dict[str, str],
        parts: PartLog,
        *,
        oauth: bool,
    ) -> Iterator[Mapping[str, Any]]:
        """The posts of a listing, page after page, for ``max_pages`` pages at most."""

        def page(after: str | None) -> tuple[list[Mapping[str, Any]], str | None]:
            reply = api.get(path, {**params, "after": after} if after else params)
            listing = self._listing(reply, path, oauth)
            if after is None:
                parts.read += 1
            children = listing.get("children")
            posts = [
                child["data"]
                for child in (children if isinstance(children, list) else [])
                if isinstance(child, Mapping)
                and child.get("kind") == "t3"
                and isinstance(child.get("data"), Mapping)
            ]
            return posts, text(listing.get("after"))

        return follow_cursor(page, max_pages=self.max_pages)

    def _listing(self, reply: ApiReply, path: str, oauth: bool) -> Mapping[str, Any]:
        reason = _reason(reply)
        if reply.ok:
            payload = reply.payload
            data = payload.get("data") if isinstance(payload, Mapping) else None
            if not isinstance(data, Mapping):
                raise ServiceError(f"Reddit sent {path} as something that is not a listing")
            return data
        if reply.status == 401:
            raise AuthenticationError(
                f"Reddit refused the OAuth token (HTTP 401): {CREDENTIALS_HELP}", status_code=401
            )
        if reply.status == 403 and reason is None:
            # A bare 403 page, not JSON: Reddit blocks this client outright.
            help_text = (
                CREDENTIALS_HELP
                if not oauth
                else f"check the app's permissions, and set {USER_AGENT_ENV}"
            )
            raise AuthenticationError(
                f"Reddit blocked the request (HTTP 403): {help_text}; Reddit also asks for a "
                f"descriptive User-Agent in {USER_AGENT_ENV}",
                status_code=403,
            )
        if reply.status in (403, 404):
            raise ServiceError(
                f"Reddit refused {path} (HTTP {reply.status}, {reason or 'not found'})",
                status_code=reply.status,
            )
        raise ServiceError(
            f"Reddit failed on {path}: HTTP {reply.status} {reason or ''}".strip(),
            status_code=reply.status,
        )
