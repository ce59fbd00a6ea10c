"""FakeBluesky: AT Protocol post search and sign-in on 127.0.0.1.

    with FakeBluesky() as bsky:
        bsky.add_posts([bluesky_post("3kabc", "artist.bsky.social", "my eiffel tower", images=1)])
        source = bsky.source()
        (candidate,) = source.discover("eiffel tower")

It serves ``GET /xrpc/app.bsky.feed.searchPosts`` (``q``, ``limit`` up to
100, ``cursor``, ``sort``; ``posts`` of ``app.bsky.feed.defs#postView`` with
hydrated ``app.bsky.embed.images#view`` embeds, ``cursor``, ``hitsTotal``) and
``POST /xrpc/com.atproto.server.createSession`` for one account. Errors are
XRPC bodies (``{"error": "ExpiredToken", "message": ...}``); responses carry
``RateLimit-*`` headers. ``anonymous`` says what signed-out searches get, as
Bluesky has varied it: ``"open"``, ``"first-page"`` (a cursor is refused with
403) or ``"closed"`` (403 always).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.service import FakeService

if TYPE_CHECKING:
    from img2img.sources.bluesky.source import BlueskySource

__all__ = ["FakeBluesky", "bluesky_post"]

_START = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
CDN = "https://cdn.bsky.app/img"


def _did(handle: str) -> str:
    return "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]


def _cid(seed: str) -> str:
    return "bafkrei" + hashlib.sha256(seed.encode()).hexdigest()[:52]


def bluesky_post(
    rkey: str,
    handle: str,
    text: str,
    *,
    images: int | Sequence[tuple[str, tuple[int, int] | None]] = 0,
    quote: bool = False,
    created_at: datetime.datetime = _START,
    likes: int = 0,
) -> dict[str, Any]:
    """A post view. ``images`` is a count, or ``(alt, (width, height) | None)`` per
    image; ``quote`` wraps them in a ``recordWithMedia`` view beside a quoted post."""
    did = _did(handle)
    specs = (
        [(f"picture {n + 1}", (1600, 1200)) for n in range(images)]
        if isinstance(images, int)
        else list(images)
    )
    views = []
    blobs = []
    for n, (alt, ratio) in enumerate(specs):
        cid = _cid(f"{rkey}/{n}")
        view: dict[str, Any] = {
            "thumb": f"{CDN}/feed_thumbnail/plain/{did}/{cid}@jpeg",
            "fullsize": f"{CDN}/feed_fullsize/plain/{did}/{cid}@jpeg",
            "alt": alt,
        }
        blob: dict[str, Any] = {
            "alt": alt,
            "image": {
                "$type": "blob",
                "ref": {"$link": cid},
                "mimeType": "image/jpeg",
                "size": 312_004,
            },
        }
        if ratio is not None:
            view["aspectRatio"] = {"width": ratio[0], "height": ratio[1]}
            blob["aspectRatio"] = {"width": ratio[0], "height": ratio[1]}
        views.append(view)
        blobs.append(blob)
    stamp = created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": stamp,
        "langs": ["en"],
        "text": text,
    }
    post: dict[str, Any] = {
        "uri": f"at://{did}/app.bsky.feed.post/{rkey}",
        "cid": _cid(rkey),
        "author": {
            "did": did,
            "handle": handle,
            "displayName": handle.split(".")[0].title(),
            "avatar": f"{CDN}/avatar/plain/{did}/{_cid(handle)}@jpeg",
            "labels": [],
            "createdAt": "2024-02-06T10:00:00.000Z",
        },
        "record": record,
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": likes,
        "quoteCount": 0,
        "indexedAt": stamp,
        "labels": [],
    }
    if views:
        images_view = {"$type": "app.bsky.embed.images#view", "images": views}
        images_record = {"$type": "app.bsky.embed.images", "images": blobs}
        if quote:
            quoted = f"at://{_did('quoted.bsky.social')}/app.bsky.feed.post/3jquoted"
            post["embed"] = {
                "$type": "app.bsky.embed.recordWithMedia#view",
                "record": {"record": {"$type": "app.bsky.embed.record#viewRecord", "uri": quoted}},
                "media": images_view,
            }
            record["embed"] = {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"record": {"uri": quoted, "cid": _cid("quoted")}},
                "media": images_record,
            }
        else:
            post["embed"] = images_view
            record["embed"] = images_record
    return post


def _error(status: int, name: str, message: str) -> Reply:
    return Reply.json({"error": name, "message": message}, status=status)


class FakeBluesky(FakeService):
    """A loopback AppView and PDS with one account and the posts added to it."""

    def __init__(
        self,
        *,
        handle: str = "indexer.bsky.social",
        app_password: str = "abcd-efgh-ijkl-mnop",
        anonymous: Literal["open", "first-page", "closed"] = "open",
    ) -> None:
        super().__init__()
        self.handle = handle
        self.app_password = app_password
        self.anonymous = anonymous
        self._posts: list[dict[str, Any]] = []
        self._tokens: dict[str, bool] = {}  # token -> still valid

    def add_posts(self, posts: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            self._posts.extend(dict(p) for p in posts)

    def populate(self, count: int, *, text: str = "eiffel tower") -> None:
        """Add ``count`` posts ``"<text> #n"`` by several authors, one image each, a minute apart."""
        self.add_posts(
            [
                bluesky_post(
                    f"3kfake{n:05d}",
                    f"artist{n % 7}.bsky.social",
                    f"{text} #{n}",
                    images=1,
                    created_at=_START - datetime.timedelta(minutes=n),
                )
                for n in range(count)
            ]
        )

    def expire_sessions(self) -> None:
        """Make every access token issued so far expired (``ExpiredToken``)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, False)

    @staticmethod
    def rate_limited(retry_after: int = 2) -> Reply:
        reset = int(time.time()) + retry_after
        headers = {
            "Retry-After": str(retry_after),
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": "3000;w=300",
        }
        return Reply.json(
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            status=429,
            headers=headers,
        )

    def source(self, *, signed_in: bool = False, **options: Any) -> BlueskySource:
        """A :class:`BlueskySource` on this server, anonymous or signed in to its account."""
        from img2img.sources.bluesky.source import BlueskySource

        if signed_in:
            options.setdefault("handle", self.handle)
            options.setdefault("app_password", self.app_password)
        return BlueskySource(appview_url=self.url, pds_url=self.url, **options)

    def search_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("searchPosts")]

    # -- the service ---------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.path == "/xrpc/com.atproto.server.createSession" and request.method == "POST":
            return self._create_session(request)
        if request.path == "/xrpc/app.bsky.feed.searchPosts" and request.method == "GET":
            return self._search(request)
        return _error(501, "MethodNotImplemented", "Method Not Implemented")

    def _create_session(self, request: RecordedRequest) -> Reply:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequest", "Request body must be JSON")
        if body.get("identifier") != self.handle or body.get("password") != self.app_password:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        with self._lock:
            token = "eyJfake." + hashlib.sha256(str(len(self._tokens)).encode()).hexdigest()[:32]
            self._tokens[token] = True
        return Reply.json(
            {
                "did": _did(self.handle),
                "handle": self.handle,
                "email": "indexer@example.com",
                "accessJwt": token,
                "refreshJwt": token + ".refresh",
                "active": True,
            }
        )

    def _search(self, request: RecordedRequest) -> Reply:
        authorization = request.headers.get("authorization")
        cursor = request.param("cursor")
        if authorization is not None:
            token = authorization.removeprefix("Bearer ").strip()
            with self._lock:
                valid = self._tokens.get(token)
            if valid is None:
                return _error(401, "InvalidToken", "Malformed token")
            if not valid:
                return _error(400, "ExpiredToken", "Token has expired")
        elif self.anonymous == "closed" or (self.anonymous == "first-page" and cursor):
            return Reply(status=403, body=b"Forbidden", headers={"Content-Type": "text/plain"})
        query = request.param("q") or ""
        words = query.casefold().split()
        if not words:
            return _error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        limit_text = request.param("limit", "25") or "25"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            return _error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        with self._lock:
            found = [
                p for p in self._posts if all(w in p["record"]["text"].casefold() for w in words)
            ]
        if request.param("sort") == "top":
            found.sort(key=lambda p: -int(p.get("likeCount", 0)))
        else:
            found.sort(key=lambda p: p["record"]["createdAt"], reverse=True)
        start = int(cursor) if cursor and cursor.isdigit() else 0
        end = start + int(limit_text)
        body: dict[str, Any] = {"posts": found[start:end], "hitsTotal": len(found)}
        if end < len(found):
            body["cursor"] = str(end)
        headers = {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": "2999",
            "RateLimit-Reset": str(int(time.time()) + 300),
            "RateLimit-Policy": "3000;w=300",
        }
        return Reply.json(body, headers=headers)
