"""Bluesky post views (``app.bsky.feed.defs#postView``) -> image candidates.

Images come from the post's hydrated ``embed``: an ``app.bsky.embed.images#view``
(``fullsize`` and ``thumb`` CDN URLs, ``alt`` text, ``aspectRatio``), or the
``media`` of an ``app.bsky.embed.recordWithMedia#view`` (images beside a
quoted post). The page is the post on bsky.app.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from img2img.models import ImageCandidate, MetadataValue
from img2img.sources.fields import compact, http_url, positive_int, text, unix_time

__all__ = ["WEB_URL", "candidates_from_post", "post_url"]

WEB_URL = "https://bsky.app"
_IMAGES_VIEW = "app.bsky.embed.images#view"
_WITH_MEDIA_VIEW = "app.bsky.embed.recordWithMedia#view"
_TITLE_LENGTH = 200


def post_url(post: Mapping[str, Any]) -> str | None:
    """``https://bsky.app/profile/{handle}/post/{rkey}`` for a post view.

    The handle is used when it is valid, else the author's DID (handles that
    fail verification come back as ``handle.invalid``).
    """
    uri = text(post.get("uri"))
    author = post.get("author") if isinstance(post.get("author"), Mapping) else {}
    if uri is None or not uri.startswith("at://"):
        return None
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post" or not parts[2]:
        return None
    handle = text(author.get("handle")) if isinstance(author, Mapping) else None
    actor = handle if handle and handle != "handle.invalid" else parts[0]
    return f"{WEB_URL}/profile/{actor}/post/{parts[2]}"


def _image_views(embed: object) -> list[Mapping[str, Any]]:
    if not isinstance(embed, Mapping):
        return []
    kind = embed.get("$type")
    if kind == _WITH_MEDIA_VIEW:
        return _image_views(embed.get("media"))
    if kind != _IMAGES_VIEW:
        return []
    images = embed.get("images")
    return (
        [image for image in images if isinstance(image, Mapping)]
        if isinstance(images, list)
        else []
    )


def _aspect(image: Mapping[str, Any]) -> float | None:
    ratio = image.get("aspectRatio")
    if not isinstance(ratio, Mapping):
        return None
    width, height = positive_int(ratio.get("width")), positive_int(ratio.get("height"))
    # An aspect ratio, not a size: the lexicon allows approximate numbers.
    return round(width / height, 4) if width and height else None


def candidates_from_post(post: Mapping[str, Any]) -> Iterator[ImageCandidate]:
    """The images of one post view as candidates; ``position`` is left to the caller."""
    page = post_url(post)
    if page is None:
        return
    raw_author = post.get("author")
    author: Mapping[str, Any] = raw_author if isinstance(raw_author, Mapping) else {}
    raw_record = post.get("record")
    record: Mapping[str, Any] = raw_record if isinstance(raw_record, Mapping) else {}
    body = text(record.get("text"))
    langs = record.get("langs")
    created = text(record.get("createdAt")) or text(post.get("indexedAt"))
    shared: dict[str, MetadataValue | None] = {
        "source": "bluesky",
        "author": text(author.get("handle")),
        "author_did": text(author.get("did")),
        "author_name": text(author.get("displayName")),
        "post_uri": text(post.get("uri")),
        "posted_at": created,
        "posted_at_unix": unix_time(created),
        "language": text(langs[0]) if isinstance(langs, list) and langs else None,
    }
    title = body.splitlines()[0][:_TITLE_LENGTH] if body else None
    for index, image in enumerate(_image_views(post.get("embed")), start=1):
        fullsize = http_url(image.get("fullsize"))
        thumb = http_url(image.get("thumb"))
        url = fullsize or thumb
        if url is None:
            continue
        extra = {
            **shared,
            "image_index": index,
            "alt_text": text(image.get("alt")),
            "aspect_ratio": _aspect(image),
        }
        yield ImageCandidate(
            image_url=url,
            page_url=page,
            title=title,
            domain="bsky.app",
            thumbnail_url=thumb if thumb != url else None,
            extra=compact(extra),
        )
