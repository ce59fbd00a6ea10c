"""Reddit posts (``t3`` things of a listing) -> image candidates.

A post shows images in one of three ways: a gallery (``gallery_data`` gives
the order, ``media_metadata`` the files), a direct image link (``url`` on
``i.redd.it`` or ending in an image extension) or, for other links, Reddit's
``preview`` image. A crosspost shows its parent's. Reddit HTML-escapes the
strings in its JSON (``&amp;`` in every preview URL) unless asked for
``raw_json=1``; URLs are unescaped here either way.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from img2img.models import ImageCandidate, MetadataValue
from img2img.sources.fields import compact, has_image_extension, http_url, positive_int, text

__all__ = ["WEB_URL", "candidates_from_post", "post_url", "unescape_url"]

WEB_URL = "https://www.reddit.com"
_IMAGE_HOSTS = frozenset({"i.redd.it", "i.imgur.com", "preview.redd.it"})
_VIDEO_HINTS = frozenset({"hosted:video", "rich:video"})


def unescape_url(url: str) -> str:
    """Undo Reddit's HTML escaping of a URL.

    Only ``&amp;`` is undone: a general HTML unescape would also turn
    ``&not=1`` or ``&copy=2`` in a query string into symbols.
    """
    return url.replace("&amp;", "&")


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _url(value: object) -> str | None:
    found = http_url(value)
    return unescape_url(found) if found else None


def post_url(post: Mapping[str, Any]) -> str | None:
    """The post's page on reddit.com, from its ``permalink``."""
    permalink = text(post.get("permalink"))
    if permalink and permalink.startswith("/"):
        return WEB_URL + permalink
    return None


def _gallery(post: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, MetadataValue | None]]]:
    metadata = post.get("media_metadata")
    gallery = post.get("gallery_data")
    if not isinstance(metadata, Mapping):
        return
    items = gallery.get("items") if isinstance(gallery, Mapping) else None
    order = (
        [item for item in items if isinstance(item, Mapping)]
        if isinstance(items, list)
        else [{"media_id": key} for key in metadata]
    )
    for index, item in enumerate(order, start=1):
        media = metadata.get(item.get("media_id"))
        if not isinstance(media, Mapping) or media.get("status", "valid") != "valid":
            continue
        if media.get("e") not in ("Image", "AnimatedImage"):
            continue
        raw_source = media.get("s")
        source: Mapping[str, Any] = raw_source if isinstance(raw_source, Mapping) else {}
        url = _url(source.get("u")) or _url(source.get("gif"))
        if url is None:
            continue
        yield (
            url,
            {
                "image_kind": "gallery",
                "gallery_index": index,
                "caption": text(item.get("caption")),
                "width": positive_int(source.get("x")),
                "height": positive_int(source.get("y")),
            },
        )


def _preview(post: Mapping[str, Any]) -> dict[str, Any] | None:
    preview = post.get("preview")
    images = preview.get("images") if isinstance(preview, Mapping) else None
    if isinstance(images, list) and images and isinstance(images[0], Mapping):
        source = images[0].get("source")
        if isinstance(source, Mapping):
            return dict(source)
    return None


def _single(post: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, MetadataValue | None]]]:
    preview = _preview(post) or {}
    preview_url = _url(preview.get("url"))
    size = {
        "width": positive_int(preview.get("width")),
        "height": positive_int(preview.get("height")),
    }
    link = _url(post.get("url_overridden_by_dest")) or _url(post.get("url"))
    if link is not None and (
        (_host(link) in _IMAGE_HOSTS and not post.get("is_video")) or has_image_extension(link)
    ):
        yield link, {"image_kind": "image", "preview_url": preview_url, **size}
        return
    if preview_url is None or post.get("is_video") or post.get("post_hint") in _VIDEO_HINTS:
        return
    yield preview_url, {"image_kind": "preview", **size}


def _images(post: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, MetadataValue | None]]]:
    found = list(_gallery(post)) if post.get("media_metadata") else []
    if not found:
        found = list(_single(post))
    yield from found


def _posted(post: Mapping[str, Any]) -> tuple[str | None, int | None]:
    created = post.get("created_utc")
    if isinstance(created, bool) or not isinstance(created, (int, float)) or created <= 0:
        return None, None
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.timezone.utc)
    return moment.isoformat(), int(created)


def candidates_from_post(post: Mapping[str, Any]) -> Iterator[ImageCandidate]:
    """The images one post shows, as candidates whose page is the post.

    ``position`` is left for the caller to number.
    """
    page = post_url(post)
    if page is None:
        return
    images = list(_images(post))
    crosspost_of = None
    parents = post.get("crosspost_parent_list")
    if not images and isinstance(parents, list) and parents and isinstance(parents[0], Mapping):
        images = list(_images(parents[0]))
        crosspost_of = post_url(parents[0])
    posted_at, posted_unix = _posted(post)
    link = _url(post.get("url_overridden_by_dest")) or _url(post.get("url"))
    score = post.get("score")
    shared: dict[str, MetadataValue | None] = {
        "source": "reddit",
        "subreddit": text(post.get("subreddit")),
        "author": text(post.get("author")),
        "post_id": text(post.get("name")),
        "posted_at": posted_at,
        "posted_at_unix": posted_unix,
        "over_18": bool(post.get("over_18")),
        "spoiler": True if post.get("spoiler") else None,
        "score": score if isinstance(score, int) and not isinstance(score, bool) else None,
        "link_url": link if link != page else None,
        "crosspost_of": crosspost_of,
    }
    thumbnail = _url(post.get("thumbnail"))
    for url, fields in images:
        width, height = fields.pop("width", None), fields.pop("height", None)
        yield ImageCandidate(
            image_url=url,
            page_url=page,
            title=text(post.get("title")),
            domain="reddit.com",
            thumbnail_url=thumbnail,
            width=width if isinstance(width, int) else None,
            height=height if isinstance(height, int) else None,
            extra=compact({**shared, **fields}),
        )
