"""BlueskySource: images in Bluesky posts found by AT Protocol post search."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from img2img.arguments import check_timeout, check_whole
from img2img.errors import AuthenticationError, ConfigurationError, ServiceError
from img2img.models import ImageCandidate
from img2img.net.api_client import ApiClient, ApiReply, RateLimit
from img2img.net.fetch import DEFAULT_USER_AGENT
from img2img.net.retry import RetryPolicy
from img2img.options import (
    Option,
    OptionError,
    OptionValues,
    iso_time,
    positive_int,
)
from img2img.provenance import normalise_url
from img2img.sources.bluesky.posts import candidates_from_post
from img2img.sources.fields import text
from img2img.sources.paging import follow_cursor, numbered
from img2img.sources.settings import both_or_neither, service_url, setting

__all__ = [
    "APPVIEW_URL_ENV",
    "DEFAULT_APPVIEW_URL",
    "DEFAULT_PDS_URL",
    "HANDLE_ENV",
    "PAGE_SIZE",
    "PASSWORD_ENV",
    "PDS_URL_ENV",
    "BlueskySource",
    "bluesky_limits",
]

log = logging.getLogger(__name__)

DEFAULT_APPVIEW_URL = "https://public.api.bsky.app"
DEFAULT_PDS_URL = "https://bsky.social"
#: Where searches go when the URLs are not given: another AppView, or your own PDS.
APPVIEW_URL_ENV = "BLUESKY_APPVIEW_URL"
PDS_URL_ENV = "BLUESKY_PDS_URL"
HANDLE_ENV = "BLUESKY_HANDLE"
PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
#: Posts per search request: the lexicon's maximum.
PAGE_SIZE = 100
SORTS = ("latest", "top")
DEFAULT_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=60.0)
CREDENTIALS_HELP = (
    f"set {HANDLE_ENV} to your handle and {PASSWORD_ENV} to an app password "
    "(Bluesky -> Settings -> Privacy and security -> App passwords), or pass "
    "BlueskySource(handle=..., app_password=...)"
)
_SEARCH = "/xrpc/app.bsky.feed.searchPosts"
_CREATE_SESSION = "/xrpc/com.atproto.server.createSession"


def bluesky_limits(response: httpx.Response, payload: Any) -> RateLimit:
    """``RateLimit-Remaining`` and ``RateLimit-Reset`` (a Unix time) as seconds from now."""

    def number(name: str) -> float | None:
        try:
            value = response.headers.get(name)
            return float(value) if value is not None else None
        except ValueError:
            return None

    reset = number("RateLimit-Reset")
    return RateLimit(
        remaining=number("RateLimit-Remaining"),
        reset_after=max(0.0, reset - time.time()) if reset is not None else None,
    )


def _error(reply: ApiReply) -> tuple[str | None, str]:
    """The XRPC error name and message of a failed reply."""
    payload = reply.payload
    if isinstance(payload, Mapping):
        return text(payload.get("error")), text(payload.get("message")) or f"HTTP {reply.status}"
    return None, f"HTTP {reply.status}"


class BlueskySource:
    """An ``ImageSource`` over Bluesky posts, through ``app.bsky.feed.searchPosts``.

    Args:
        handle, app_password: an account to search as; default to
            ``BLUESKY_HANDLE`` and ``BLUESKY_APP_PASSWORD``. Without them the
            source asks the public AppView, which Bluesky often limits to
            the first page of results or closes to anonymous search.
        sort: ``latest`` (default) or ``top``.
        language: only posts in this language (``"en"``).
        author: only posts by this handle or DID.
        since, until: only posts created in this range (ISO 8601, e.g.
            ``"2026-01-01T00:00:00Z"``, or a date ``"2026-01-01"``).
        max_pages: search pages read at most (Bluesky's cursor "may not
            necessarily allow scrolling through the entire result set").
        timeout, retry: per request; 429 and 5xx are retried, waiting as
            ``Retry-After`` or ``RateLimit-Reset`` say.
        appview_url: where anonymous searches go; defaults to
            ``BLUESKY_APPVIEW_URL``, else ``https://public.api.bsky.app``.
        pds_url: where an account signs in and searches; defaults to
            ``BLUESKY_PDS_URL`` (an account on a self-hosted PDS), else
            ``https://bsky.social``. Tests point both at
            :class:`img2img.testing.fake_bluesky.FakeBluesky`.
        sleep: how to wait for rate limits (tests pass a recorder).

    ``discover(keyphrase)`` pages through search results 100 posts at a time
    with ``cursor``; images of each post (``fullsize``, with ``thumb`` as the
    thumbnail and ``alt`` text and aspect ratio in ``extra``) become
    candidates whose page is ``https://bsky.app/profile/{handle}/post/{rkey}``.
    """

    command_title = "Bluesky"
    command_note = "BLUESKY_HANDLE and BLUESKY_APP_PASSWORD to sign in, else anonymous"
    command_options = (
        Option("lang", "only posts in this language, e.g. en", metavar="LANG"),
        Option("author", "only posts by this handle or DID", metavar="HANDLE"),
        Option("since", "only messages or posts from this date or time on", "ISO", iso_time),
        Option("until", "only posts before this", metavar="ISO", type=iso_time),
        Option("sort", "latest (default), top", metavar="ORDER", choices=("latest", "top")),
        Option("max-pages", "read at most N pages of results (default: 10)", "N", positive_int),
    )

    @classmethod
    def from_options(cls, values: OptionValues, *, keyphrase: str) -> BlueskySource:
        """The source ``img2img index --source bluesky`` builds from its options."""
        if not keyphrase.strip():
            raise OptionError("--source bluesky needs a KEYPHRASE to search for")
        return cls(
            sort=values.get("sort", "latest"),
            language=values.get("lang"),
            author=values.get("author"),
            since=values.get("since"),
            until=values.get("until"),
            **({"max_pages": values["max_pages"]} if values.get("max_pages") else {}),
        )

    def __init__(
        self,
        *,
        handle: str | None = None,
        app_password: str | None = None,
        sort: str = "latest",
        language: str | None = None,
        author: str | None = None,
        since: str | None = None,
        until: str | None = None,
        max_pages: int = 10,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        appview_url: str | None = None,
        pds_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if sort not in SORTS:
            raise ConfigurationError(f"sort must be one of {', '.join(SORTS)}; got {sort!r}")
        check_whole("max_pages", max_pages)
        check_timeout(timeout)
        self.sort = sort
        self.filters = {
            key: value.strip()
            for key, value in {
                "lang": language,
                "author": author,
                "since": since,
                "until": until,
            }.items()
            if value and value.strip()
        }
        self.max_pages = max_pages
        self.timeout = timeout
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.appview_url = service_url(
            appview_url, "appview_url", APPVIEW_URL_ENV, DEFAULT_APPVIEW_URL
        )
        self.pds_url = service_url(pds_url, "pds_url", PDS_URL_ENV, DEFAULT_PDS_URL)
        self._handle = handle
        self._password = app_password
        self._sleep = sleep

    def __repr__(self) -> str:
        return (
            f"BlueskySource(sort={self.sort!r}, filters={self.filters!r}, "
            f"appview_url={self.appview_url!r}, pds_url={self.pds_url!r})"
        )

    def _credentials(self) -> tuple[str, str] | None:
        handle = setting(self._handle, HANDLE_ENV).removeprefix("@")
        password = setting(self._password, PASSWORD_ENV)
        problem = f"BlueskySource needs both a handle and a password: {CREDENTIALS_HELP}"
        return both_or_neither(handle, password, problem)

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` distinct images of posts found for ``keyphrase``."""
        query = " ".join(keyphrase.split())
        if not query:
            raise ConfigurationError("BlueskySource needs a keyphrase: post search takes a query")
        return self._discover(query, limit, self._credentials())

    def _options(self) -> dict[str, Any]:
        return {
            "service": "Bluesky",
            "timeout": self.timeout,
            "retry": self.retry,
            "limits": bluesky_limits,
            "sleep": self._sleep,
        }

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": DEFAULT_USER_AGENT}

    def _signed_in(self, credentials: tuple[str, str]) -> ApiClient:
        """A client on the PDS carrying a fresh session's access token."""
        handle, password = credentials
        with ApiClient(
            base_url=self.pds_url, headers=self._headers(), secrets=[password], **self._options()
        ) as login:
            reply = login.request(
                "POST", _CREATE_SESSION, json_body={"identifier": handle, "password": password}
            )
        name, message = _error(reply)
        token = reply.payload.get("accessJwt") if isinstance(reply.payload, Mapping) else None
        if reply.status in (400, 401) and not reply.ok:
            raise AuthenticationError(
                f"Bluesky refused the sign-in ({name or reply.status}: {message}): {CREDENTIALS_HELP}",
                status_code=reply.status,
            )
        if not reply.ok or not isinstance(token, str):
            raise ServiceError(f"Bluesky sign-in failed: {message}", status_code=reply.status)
        headers = {**self._headers(), "Authorization": f"Bearer {token}"}
        return ApiClient(
            base_url=self.pds_url, headers=headers, secrets=[password, token], **self._options()
        )

    def _discover(
        self, query: str, limit: int, credentials: tuple[str, str] | None
    ) -> Iterator[ImageCandidate]:
        posts = self._posts(query, credentials)
        candidates = (c for post in posts for c in candidates_from_post(post))
        return numbered(candidates, normalise_url, limit)

    def _posts(
        self, query: str, credentials: tuple[str, str] | None
    ) -> Iterator[Mapping[str, Any]]:
        """The search's post views, page after page, for ``max_pages`` pages at most."""
        if credentials is None:
            api = ApiClient(base_url=self.appview_url, headers=self._headers(), **self._options())
        else:
            api = self._signed_in(credentials)
        renewed = False
        pages = 0

        def page(cursor: str | None) -> tuple[list[Mapping[str, Any]], str | None]:
            nonlocal api, renewed, pages
            params = {"q": query, "limit": str(PAGE_SIZE), "sort": self.sort, **self.filters}
            if cursor is not None:
                params["cursor"] = cursor
            reply = api.get(_SEARCH, params)
            if _error(reply)[0] == "ExpiredToken" and credentials is not None and not renewed:
                # Access tokens live minutes; one fresh session is enough for a run.
                api.close()
                api = self._signed_in(credentials)
                renewed = True
                reply = api.get(_SEARCH, params)
            if reply.status == 403 and credentials is None and pages > 0:
                log.warning(
                    "Bluesky stopped anonymous search after %d pages; %s for more",
                    pages,
                    CREDENTIALS_HELP,
                )
                return [], None
            if not reply.ok:
                self._raise(reply, credentials is not None)
            payload = reply.payload if isinstance(reply.payload, Mapping) else {}
            posts = payload.get("posts")
            found = [p for p in posts if isinstance(p, Mapping)] if isinstance(posts, list) else []
            pages += 1
            return found, text(payload.get("cursor"))

        try:
            yield from follow_cursor(page, max_pages=self.max_pages)
        finally:
            api.close()

    def _raise(self, reply: ApiReply, signed_in: bool) -> None:
        name, message = _error(reply)
        if reply.status in (401, 403) or name in (
            "AuthenticationRequired",
            "ExpiredToken",
            "InvalidToken",
        ):
            detail = f"{name or 'HTTP ' + str(reply.status)}: {message}"
            why = (
                "Bluesky refused the session"
                if signed_in
                else "Bluesky refuses anonymous post search right now"
            )
            raise AuthenticationError(
                f"{why} ({detail}): {CREDENTIALS_HELP}", status_code=reply.status
            )
        if name == "BadQueryString":
            raise ConfigurationError(f"Bluesky cannot search for that query: {message}")
        raise ServiceError(
            f"Bluesky search failed ({name or reply.status}): {message}", status_code=reply.status
        )
