"""FakePatreon: the Patreon API v2 campaign and post endpoints on 127.0.0.1.

    with FakePatreon() as patreon:
        patreon.add_posts(patreon.campaign_id, [patreon_post("101", "Eiffel tower study", "<p>…</p>")])
        source = patreon.source()
        candidates = list(source.discover("eiffel tower"))

It serves ``GET /api/oauth2/v2/campaigns`` and
``GET /api/oauth2/v2/campaigns/{id}/posts`` as JSON:API documents: only the
attributes named in ``fields[post]`` are sent (a name the post resource does
not have is a 400, as on Patreon), ``include=user,campaign`` adds the related
resources, pages follow ``page[count]`` and the opaque ``page[cursor]`` given
in ``meta.pagination.cursors.next``. Errors are JSON:API ``errors`` arrays:
401 for a wrong creator token, 403 for a campaign the token does not own,
404 for an unknown one, 429 with ``retry_after_seconds``.
"""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.service import FakeService

if TYPE_CHECKING:
    from img2img.sources.patreon.source import PatreonSource

__all__ = ["POST_ATTRIBUTES", "FakePatreon", "patreon_post"]

#: The attributes of Patreon's documented post resource.
POST_ATTRIBUTES = frozenset(
    {
        "app_id",
        "app_status",
        "content",
        "embed_data",
        "embed_url",
        "is_paid",
        "is_public",
        "tiers",
        "published_at",
        "title",
        "url",
    }
)
_START = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
MEDIA = "https://c10.patreonusercontent.com/4/patreon-media/p/post"


def patreon_media_url(post_id: str, name: str) -> str:
    """A signed post-media URL as Patreon serves inline images."""
    return f"{MEDIA}/{post_id}/{name}/eyJ3Ijo2MjB9/1.jpg?token-time=1772409600&token-hash=abc{post_id}="


def patreon_post(
    post_id: str,
    title: str,
    content: str = "",
    *,
    published_at: datetime.datetime = _START,
    embed_url: str | None = None,
    embed_data: Mapping[str, Any] | None = None,
    is_public: bool = False,
    user_id: str = "2822191",
) -> dict[str, Any]:
    """A post resource with every documented attribute (the server sends only those asked for)."""
    slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())) or "post"
    return {
        "id": post_id,
        "type": "post",
        "attributes": {
            "app_id": None,
            "app_status": None,
            "content": content,
            "embed_data": dict(embed_data) if embed_data is not None else None,
            "embed_url": embed_url,
            "is_paid": False,
            "is_public": is_public,
            "tiers": [] if is_public else ["9123456"],
            "published_at": published_at.isoformat(timespec="milliseconds"),
            "title": title,
            "url": f"/posts/{slug}-{post_id}",
        },
        "relationships": {
            "user": {"data": {"id": user_id, "type": "user"}},
        },
    }


def _errors(status: int, code_name: str, detail: str, **extra: Any) -> Reply:
    error = {
        "code": status,
        "code_name": code_name,
        "detail": detail,
        "id": "9b2c6a0e-fake",
        "status": str(status),
        "title": code_name,
        **extra,
    }
    return Reply.json({"errors": [error]}, status=status)


class FakePatreon(FakeService):
    """A loopback Patreon API holding campaigns and their posts.

    Args:
        access_token: the creator access token accepted as ``Bearer``.
        campaign_id, vanity: the campaign the token's creator owns.
        creator: the creator's ``(user id, full name, vanity)``.
    """

    def __init__(
        self,
        *,
        access_token: str = "fake-patreon-creator-token",
        campaign_id: str = "4567890",
        vanity: str = "pixelpainter",
        creator: tuple[str, str, str] = ("2822191", "Pixel Painter", "pixelpainter"),
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.campaign_id = campaign_id
        self._creator = creator
        self._campaigns: dict[str, dict[str, Any]] = {}
        self._posts: dict[str, list[dict[str, Any]]] = {}
        self.add_campaign(campaign_id, vanity=vanity)

    def add_campaign(self, campaign_id: str, *, vanity: str, owned: bool = True) -> None:
        """A campaign; one not ``owned`` by the token's creator answers 403."""
        with self._lock:
            self._campaigns[campaign_id] = {"vanity": vanity, "owned": owned}
            self._posts.setdefault(campaign_id, [])

    def add_posts(self, campaign_id: str, posts: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            self._posts[campaign_id].extend(dict(p) for p in posts)

    def populate(self, campaign_id: str, count: int, *, text: str = "eiffel tower") -> None:
        """``count`` posts ``"<text> #n"``, each with one inline image, a day apart."""
        self.add_posts(
            campaign_id,
            [
                patreon_post(
                    str(9000 + n),
                    f"{text} #{n}",
                    f'<p>New piece!</p><p><img src="{patreon_media_url(str(9000 + n), "a")}" '
                    f'alt="{text} {n}"></p>',
                    published_at=_START - datetime.timedelta(days=n),
                )
                for n in range(count)
            ],
        )

    def delete_campaign(self, campaign_id: str) -> None:
        with self._lock:
            self._campaigns.pop(campaign_id, None)

    @staticmethod
    def rate_limited(retry_after: float = 2.0) -> Reply:
        return _errors(
            429,
            "RequestThrottled",
            "You have made too many attempts.",
            retry_after_seconds=retry_after,
        )

    def source(self, **options: Any) -> PatreonSource:
        """A :class:`PatreonSource` on this server with its creator token."""
        from img2img.sources.patreon.source import PatreonSource

        options.setdefault("access_token", self.access_token)
        return PatreonSource(base_url=self.url, **options)

    # -- the service ---------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return _errors(
                401, "Unauthorized", "The server could not verify that you are authorized."
            )
        if not request.headers.get("user-agent"):
            return _errors(403, "Forbidden", "Requests need a User-Agent.")
        parts = request.path.strip("/").split("/")
        if parts[:3] != ["api", "oauth2", "v2"] or request.method != "GET":
            return _errors(404, "ResourceMissing", "Not found.")
        if parts[3:] == ["campaigns"]:
            return self._campaign_list()
        if len(parts) == 6 and parts[3] == "campaigns" and parts[5] == "posts":
            return self._post_page(parts[4], request)
        return _errors(404, "ResourceMissing", "Not found.")

    def _campaign_list(self) -> Reply:
        with self._lock:
            owned = [(cid, c) for cid, c in self._campaigns.items() if c["owned"]]
        data = [
            {"id": cid, "type": "campaign", "attributes": {"vanity": c["vanity"]}}
            for cid, c in owned
        ]
        return Reply.json({"data": data, "meta": {"pagination": {"total": len(data)}}})

    def _post_page(self, campaign_id: str, request: RecordedRequest) -> Reply:
        with self._lock:
            campaign = self._campaigns.get(campaign_id)
            posts = list(self._posts.get(campaign_id, []))
        if campaign is None:
            return _errors(404, "ResourceMissing", f"Campaign {campaign_id} not found.")
        if not campaign["owned"]:
            return _errors(403, "Forbidden", "You do not have permission to view these posts.")
        wanted = [f for f in (request.param("fields[post]") or "").split(",") if f]
        unknown = sorted(set(wanted) - POST_ATTRIBUTES)
        if unknown:
            return _errors(
                400,
                "ParameterInvalidOnType",
                f"{', '.join(unknown)} is not a valid attribute of type post.",
            )
        count_text = request.param("page[count]", "20") or "20"
        count = int(count_text) if count_text.isdigit() and int(count_text) > 0 else 20
        cursor = request.param("page[cursor]")
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        page = posts[start : start + count]
        data = []
        for post in page:
            item = {k: v for k, v in post.items() if k != "attributes"}
            item["attributes"] = {k: v for k, v in post["attributes"].items() if k in wanted}
            data.append(item)
        body: dict[str, Any] = {"data": data, "meta": {"pagination": {"total": len(posts)}}}
        if start + count < len(posts):
            next_cursor = base64.urlsafe_b64encode(str(start + count).encode()).decode()
            body["meta"]["pagination"]["cursors"] = {"next": next_cursor}
            body["links"] = {
                "next": f"{self.url}/api/oauth2/v2/campaigns/{campaign_id}/posts?page%5Bcursor%5D={next_cursor}"
            }
        else:
            body["meta"]["pagination"]["cursors"] = {"next": None}
        includes = set((request.param("include") or "").split(","))
        included = []
        if "user" in includes:
            user_id, full_name, vanity = self._creator
            fields = (request.param("fields[user]") or "").split(",")
            attributes = {"full_name": full_name, "vanity": vanity}
            included.append(
                {
                    "id": user_id,
                    "type": "user",
                    "attributes": {k: v for k, v in attributes.items() if k in fields},
                }
            )
        if "campaign" in includes:
            fields = (request.param("fields[campaign]") or "").split(",")
            attributes = {
                "vanity": campaign["vanity"],
                "url": f"https://www.patreon.com/{campaign['vanity']}",
            }
            included.append(
                {
                    "id": campaign_id,
                    "type": "campaign",
                    "attributes": {k: v for k, v in attributes.items() if k in fields},
                }
            )
        if included:
            body["included"] = included
        return Reply.json(body)
