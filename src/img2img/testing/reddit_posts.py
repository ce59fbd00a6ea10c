"""Reddit posts (the ``data`` of ``t3`` things) as its listings return them, for tests:
image posts, galleries, links and videos, in the shapes Reddit's JSON has."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CREATED",
    "reddit_gallery_post",
    "reddit_image_post",
    "reddit_link_post",
    "reddit_post",
    "reddit_video_post",
]

#: When the fake world's newest post was made (Unix seconds).
CREATED = 1_772_366_400  # 2026-03-01 12:00 UTC


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
    created_utc: float = CREATED,
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
