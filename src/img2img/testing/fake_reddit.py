"""FakeReddit: Reddit's JSON listings, search and app-only OAuth on 127.0.0.1.

    with FakeReddit() as reddit:
        reddit.add_posts("ArtHistory", [reddit_image_post("abc123", "ArtHistory", "my eiffel tower")])
        source = reddit.source(subreddits=["ArtHistory"])
        (candidate,) = source.discover("eiffel tower")

It serves ``/search``, ``/r/{sub}/search`` and ``/r/{sub}/new``, with
``.json`` (the public site) or without (the OAuth host, bearer token
required), and ``POST /api/v1/access_token`` (client credentials, HTTP basic
auth). Listings have Reddit's shape (``kind: Listing``, ``data.after``,
``t3`` children of 100 at most) and its ``X-Ratelimit-*`` headers; strings
are HTML-escaped (``&amp;``) unless the request says ``raw_json=1``, as Reddit
does. Subreddits can be made private (403) or banned (404), anonymous clients
blocked with a bare 403 page, and replies queued with :meth:`queue`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.reddit_posts import CREATED, reddit_image_post
from img2img.testing.service import FakeService, RateWindow

if TYPE_CHECKING:
    from img2img.sources.reddit.source import RedditSource

__all__ = ["FakeReddit"]


def _escape(value: Any) -> Any:
    """Reddit's default JSON: ``&``, ``<`` and ``>`` escaped in every string."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _error(status: int, message: str, reason: str | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "error": status}
    if reason is not None:
        body["reason"] = reason
    return Reply.json(body, status=status)


class FakeReddit(FakeService):
    """A loopback Reddit serving the posts added to it.

    Args:
        client_id, client_secret: the only app credentials the token endpoint accepts.
        block_anonymous: answer requests without a bearer token with a bare 403 page.
        bucket_size: requests allowed per ``window`` seconds (0: no limit).
        window: seconds a rate-limit window lasts (Reddit's is 600).
        clock: the time the window follows.
    """

    def __init__(
        self,
        *,
        client_id: str = "fake-reddit-app",
        client_secret: str = "fake-reddit-secret",
        block_anonymous: bool = False,
        bucket_size: int = 0,
        window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.block_anonymous = block_anonymous
        self.bucket_size = bucket_size
        self.window = window
        self._posts: dict[str, list[dict[str, Any]]] = {}
        self._private: set[str] = set()
        self._banned: set[str] = set()
        self._tokens: set[str] = set()
        self._window = RateWindow(clock)

    # -- building the world --------------------------------------------------

    def add_posts(self, subreddit: str, posts: Sequence[Mapping[str, Any]]) -> None:
        """Add post ``data`` objects (built here, or recorded) to a subreddit."""
        with self._lock:
            self._posts.setdefault(subreddit.lower(), []).extend(dict(p) for p in posts)

    def populate(self, subreddit: str, count: int, *, text: str = "eiffel tower") -> None:
        """Fill a subreddit with ``count`` image posts titled ``"<text> #n"``, newest last;
        ids start with the subreddit's first four letters (``art00007``)."""
        self.add_posts(
            subreddit,
            [
                reddit_image_post(
                    f"{subreddit.lower()[:4]}{n:05d}",
                    subreddit,
                    f"{text} #{n}",
                    created_utc=CREATED - (count - n) * 60,
                )
                for n in range(count)
            ],
        )

    def make_private(self, subreddit: str) -> None:
        with self._lock:
            self._private.add(subreddit.lower())

    def ban(self, subreddit: str) -> None:
        with self._lock:
            self._banned.add(subreddit.lower())

    # -- test controls -------------------------------------------------------

    @staticmethod
    def rate_limited(reset: float = 30.0) -> Reply:
        """A 429 as Reddit sends it, with the window's reset in ``X-Ratelimit-Reset``."""
        headers = {
            "X-Ratelimit-Used": "100",
            "X-Ratelimit-Remaining": "0.0",
            "X-Ratelimit-Reset": str(round(reset)),
        }
        return Reply.json(
            {"message": "Too Many Requests", "error": 429}, status=429, headers=headers
        )

    def source(self, *, oauth: bool = False, **options: Any) -> RedditSource:
        """A :class:`RedditSource` on this server, anonymous or (``oauth``) with its app."""
        from img2img.sources.reddit.source import RedditSource

        if oauth:
            options.setdefault("client_id", self.client_id)
            options.setdefault("client_secret", self.client_secret)
        return RedditSource(base_url=self.url, oauth_url=self.url, **options)

    def listing_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET"]

    # -- the service ---------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.method == "POST" and request.path == "/api/v1/access_token":
            return self._token(request)
        if request.method != "GET":
            return _error(405, "Method Not Allowed")
        authorization = request.headers.get("authorization")
        oauth = not request.path.endswith(".json")
        if authorization is not None or oauth:
            token = (authorization or "").removeprefix("bearer ").strip()
            if token not in self._tokens:
                return _error(401, "Unauthorized")
        elif self.block_anonymous:
            return Reply(
                status=403,
                body=b"<html><body><h1>whoa there, pardner!</h1>blocked</body></html>",
                headers={"Content-Type": "text/html"},
            )
        limited, headers = self._count()
        if limited is not None:
            return limited
        reply = self._listing(request)
        reply.headers.update(headers)
        return reply

    def _token(self, request: RecordedRequest) -> Reply:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return _error(401, "Unauthorized")
        if b"grant_type=client_credentials" not in request.body:
            return Reply.json({"error": "unsupported_grant_type"}, status=400)
        token = (
            "fake-reddit-oauth-" + hashlib.sha1(str(len(self._tokens)).encode()).hexdigest()[:16]
        )
        with self._lock:
            self._tokens.add(token)
        return Reply.json(
            {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    def _count(self) -> tuple[Reply | None, dict[str, str]]:
        if not self.bucket_size:
            return None, {}
        with self._lock:
            allowed, used, reset = self._window.take(self.bucket_size, self.window)
        if not allowed:
            return self.rate_limited(reset), {}
        return None, {
            "X-Ratelimit-Used": str(used),
            "X-Ratelimit-Remaining": f"{self.bucket_size - used:.1f}",
            "X-Ratelimit-Reset": str(round(reset)),
        }

    def _listing(self, request: RecordedRequest) -> Reply:
        path = request.path.removesuffix(".json").strip("/").split("/")
        if path == ["search"]:
            posts = [p for sub in self._posts.values() for p in sub]
        elif len(path) == 3 and path[0] == "r" and path[2] in ("search", "new"):
            sub = path[1].lower()
            if sub in self._private:
                return _error(403, "Forbidden", "private")
            if sub in self._banned:
                return _error(404, "Not Found", "banned")
            if sub not in self._posts:
                return _error(404, "Not Found")
            posts = list(self._posts[sub])
        else:
            return _error(404, "Not Found")
        if path[-1] == "search":
            words = (request.param("q") or "").casefold().split()
            if not words:
                return _error(400, "Bad Request")
            posts = [
                p for p in posts if all(w in str(p.get("title", "")).casefold() for w in words)
            ]
        if path[-1] == "new" or request.param("sort") == "new":
            posts.sort(key=lambda p: -float(p.get("created_utc", 0)))
        limit_text = request.param("limit", "25") or "25"
        limit = min(100, int(limit_text)) if limit_text.isdigit() else 25
        after = request.param("after")
        if after:
            names = [p.get("name") for p in posts]
            posts = posts[names.index(after) + 1 :] if after in names else []
        page = posts[:limit]
        data = {
            "after": page[-1]["name"] if len(posts) > limit else None,
            "dist": len(page),
            "modhash": "",
            "geo_filter": "",
            "children": [{"kind": "t3", "data": p} for p in page],
            "before": None,
        }
        body = {"kind": "Listing", "data": data}
        return Reply.json(body if request.param("raw_json") == "1" else _escape(body))
