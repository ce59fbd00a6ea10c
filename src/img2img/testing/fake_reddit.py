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
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from img2img.closing import Closing
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

if TYPE_CHECKING:
    from img2img.sources.reddit.source import RedditSource

__all__ = [
    "FakeReddit",
    "reddit_gallery_post",
    "reddit_image_post",
    "reddit_link_post",
    "reddit_post",
    "reddit_video_post",
]

_CREATED = 1_772_366_400  # 2026-03-01 12:00 UTC


def _escape(value: Any) -> Any:
    """Reddit's default JSON: ``&``, ``<`` and ``>`` escaped in every string."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _preview(url: str, width: int, height: int) -> dict[str, Any]:
    sig = hashlib.sha1(url.encode()).hexdigest()[:40]
    source = f"{url}?width={width}&format=pjpg&auto=webp&s={sig}"
    return {
        "images": [
            {
                "source": {"url": source, "width": width, "height": height},
                "resolutions": [
                    {
                        "url": f"{url}?width=108&crop=smart&auto=webp&s={sig[:20]}",
                        "width": 108,
                        "height": max(1, height * 108 // max(width, 1)),
                    }
                ],
                "variants": {},
                "id": sig[:12],
            }
        ],
        "enabled": True,
    }


def reddit_post(
    post_id: str,
    subreddit: str,
    title: str,
    *,
    url: str,
    author: str = "someone",
    created_utc: float = _CREATED,
    post_hint: str | None = None,
    preview: tuple[str, int, int] | None = None,
    over_18: bool = False,
    is_video: bool = False,
    score: int = 42,
    **fields: Any,
) -> dict[str, Any]:
    """A ``t3`` post's ``data`` as listings return it; ``preview`` is ``(url, width, height)``."""
    slug = "_".join(re.findall(r"[a-z0-9]+", title.lower()))[:40] or "post"
    post: dict[str, Any] = {
        "approved_at_utc": None,
        "subreddit": subreddit,
        "selftext": "",
        "author_fullname": "t2_" + hashlib.sha1(author.encode()).hexdigest()[:8],
        "title": title,
        "subreddit_name_prefixed": f"r/{subreddit}",
        "name": f"t3_{post_id}",
        "score": score,
        "thumbnail": f"https://b.thumbs.redditmedia.com/{post_id}.jpg",
        "created_utc": created_utc,
        "domain": url.split("/")[2] if "://" in url else "self." + subreddit,
        "url": url,
        "over_18": over_18,
        "spoiler": False,
        "is_video": is_video,
        "id": post_id,
        "author": author,
        "num_comments": 3,
        "permalink": f"/r/{subreddit}/comments/{post_id}/{slug}/",
        "is_self": False,
        "removed_by_category": None,
    }
    if post_hint is not None:
        post["post_hint"] = post_hint
    if url.startswith("http") and "reddit.com" not in url:
        post["url_overridden_by_dest"] = url
    if preview is not None:
        post["preview"] = _preview(*preview)
    post.update(fields)
    return post


def reddit_image_post(
    post_id: str,
    subreddit: str,
    title: str,
    *,
    image_url: str | None = None,
    width: int = 1200,
    height: int = 900,
    **fields: Any,
) -> dict[str, Any]:
    """An image post: ``url`` on ``i.redd.it``, with Reddit's preview of it."""
    url = image_url or f"https://i.redd.it/{post_id}.jpeg"
    preview = (f"https://preview.redd.it/{post_id}.jpeg", width, height)
    return reddit_post(
        post_id, subreddit, title, url=url, post_hint="image", preview=preview, **fields
    )


def reddit_gallery_post(
    post_id: str,
    subreddit: str,
    title: str,
    images: Sequence[tuple[str, int, int]],
    *,
    captions: Sequence[str | None] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A gallery: ``images`` are ``(media_id, width, height)``; files on ``preview.redd.it``."""
    metadata = {}
    items = []
    for n, (media_id, width, height) in enumerate(images):
        sig = hashlib.sha1(media_id.encode()).hexdigest()[:40]
        metadata[media_id] = {
            "status": "valid",
            "e": "Image",
            "m": "image/jpg",
            "p": [
                {
                    "y": max(1, height * 108 // width),
                    "x": 108,
                    "u": f"https://preview.redd.it/{media_id}.jpg?width=108&crop=smart&auto=webp&s={sig[:20]}",
                }
            ],
            "s": {
                "y": height,
                "x": width,
                "u": f"https://preview.redd.it/{media_id}.jpg?width={width}&format=pjpg&auto=webp&s={sig}",
            },
            "id": media_id,
        }
        item: dict[str, Any] = {"media_id": media_id, "id": 500_000 + n}
        if n < len(captions) and captions[n]:
            item["caption"] = captions[n]
        items.append(item)
    return reddit_post(
        post_id,
        subreddit,
        title,
        url=f"https://www.reddit.com/gallery/{post_id}",
        is_gallery=True,
        media_metadata=metadata,
        gallery_data={"items": items},
        **fields,
    )


def reddit_link_post(
    post_id: str, subreddit: str, title: str, link: str, **fields: Any
) -> dict[str, Any]:
    """A link to a web page, which Reddit previews with an image of its own."""
    preview = (f"https://external-preview.redd.it/{post_id}.jpg", 1200, 630)
    return reddit_post(
        post_id, subreddit, title, url=link, post_hint="link", preview=preview, **fields
    )


def reddit_video_post(post_id: str, subreddit: str, title: str, **fields: Any) -> dict[str, Any]:
    """A video hosted on Reddit: its preview is a still of the video, not an image post."""
    preview = (f"https://external-preview.redd.it/{post_id}-still.jpg", 1280, 720)
    return reddit_post(
        post_id,
        subreddit,
        title,
        url=f"https://v.redd.it/{post_id}",
        post_hint="hosted:video",
        is_video=True,
        preview=preview,
        **fields,
    )


def _error(status: int, message: str, reason: str | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "error": status}
    if reason is not None:
        body["reason"] = reason
    return Reply.json(body, status=status)


class FakeReddit(Closing):
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
        self.client_id = client_id
        self.client_secret = client_secret
        self.block_anonymous = block_anonymous
        self.bucket_size = bucket_size
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._posts: dict[str, list[dict[str, Any]]] = {}
        self._private: set[str] = set()
        self._banned: set[str] = set()
        self._tokens: set[str] = set()
        self._faults: deque[Reply] = deque()
        self._used = 0
        self._reset_at = float("-inf")
        self._server = LoopbackServer(self._handle)

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
                    created_utc=_CREATED - (count - n) * 60,
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

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._faults.extend(replies)

    def source(self, *, oauth: bool = False, **options: Any) -> RedditSource:
        """A :class:`RedditSource` on this server, anonymous or (``oauth``) with its app."""
        from img2img.sources.reddit.source import RedditSource

        if oauth:
            options.setdefault("client_id", self.client_id)
            options.setdefault("client_secret", self.client_secret)
        return RedditSource(base_url=self.url, oauth_url=self.url, **options)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._server.requests)

    def listing_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET"]

    def close(self) -> None:
        self._server.close()

    # -- the service ---------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Reply:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            return fault
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
            now = self._clock()
            if now >= self._reset_at:
                self._used = 0
                self._reset_at = now + self.window
            reset = max(0.0, self._reset_at - now)
            if self._used >= self.bucket_size:
                return self.rate_limited(reset), {}
            self._used += 1
            return None, {
                "X-Ratelimit-Used": str(self._used),
                "X-Ratelimit-Remaining": f"{self.bucket_size - self._used:.1f}",
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
