"""Patreon post resources (JSON:API) -> image candidates.

API v2 posts carry their body as HTML in ``content`` (images as ``<img>``
tags) and an embedded link or file in ``embed_url``/``embed_data``. The
documented post resource has no attachment list; an image the creator
embedded, or linked as the post's media, arrives through those two fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from img2img.models import ImageCandidate, MetadataValue
from img2img.provenance import normalise_url
from img2img.sources.fields import (
    compact,
    has_image_extension,
    http_url,
    matches_words,
    text,
    unix_time,
)

__all__ = ["WEB_URL", "PostBody", "candidates_from_post", "dedup_key", "parse_content"]

WEB_URL = "https://www.patreon.com"
# Patreon signs its media URLs; the signature changes, the image does not.
_SIGNATURE = frozenset({"token-time", "token-hash"})


@dataclass
class PostBody:
    """What the HTML of a post holds: its images (``src``, ``alt``) and its text."""

    images: list[tuple[str, str | None]] = field(default_factory=list)
    plain: str = ""


class _ContentParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body = PostBody()
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        values = dict(attrs)
        src = http_url(values.get("src"))
        if src is not None:
            self.body.images.append((src, text(values.get("alt"))))

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self.body.plain = " ".join(" ".join(self._text).split())


def parse_content(html: str) -> PostBody:
    """The images and plain text of a post's HTML ``content``."""
    parser = _ContentParser()
    parser.feed(html)
    parser.close()
    return parser.body


def dedup_key(url: str) -> str:
    """Identity of a Patreon image URL: without its ``token-time``/``token-hash`` signature."""
    parts = urlsplit(normalise_url(url))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in _SIGNATURE])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _embed_images(attributes: Mapping[str, Any]) -> list[str]:
    found = []
    embed = attributes.get("embed_data")
    for value in (
        attributes.get("embed_url"),
        embed.get("url") if isinstance(embed, Mapping) else None,
    ):
        url = http_url(value)
        if url is not None and has_image_extension(url) and url not in found:
            found.append(url)
    return found


def candidates_from_post(
    post: Mapping[str, Any],
    *,
    campaign_id: str,
    included: Mapping[tuple[str, str], Mapping[str, Any]],
    words: tuple[str, ...] = (),
) -> Iterator[ImageCandidate]:
    """The images of one post resource; ``included`` maps ``(type, id)`` to the
    attributes of the resources sent with it. ``words`` must all occur in the
    post's title, text or embed; none means every image."""
    raw = post.get("attributes")
    attributes: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    post_id = text(post.get("id"))
    relative = text(attributes.get("url"))
    page = http_url(urljoin(WEB_URL, relative)) if relative else None
    if post_id is None or page is None:
        return
    content = attributes.get("content")
    body = parse_content(content) if isinstance(content, str) else PostBody()
    embed = attributes.get("embed_data")
    embed_text = (
        " ".join(str(embed.get(key) or "") for key in ("subject", "description"))
        if isinstance(embed, Mapping)
        else ""
    )
    title = text(attributes.get("title"))
    if words and not matches_words(words, f"{title or ''}\n{body.plain}\n{embed_text}"):
        return
    user = included.get(("user", _related_id(post, "user") or ""), {})
    campaign = included.get(("campaign", campaign_id), {})
    published = text(attributes.get("published_at"))
    shared: dict[str, MetadataValue | None] = {
        "source": "patreon",
        "campaign_id": campaign_id,
        "campaign": text(campaign.get("vanity")),
        "post_id": post_id,
        "author": text(user.get("full_name")) or text(user.get("vanity")),
        "posted_at": published,
        "posted_at_unix": unix_time(published),
        "is_public": attributes.get("is_public")
        if isinstance(attributes.get("is_public"), bool)
        else None,
        "is_paid": attributes.get("is_paid")
        if isinstance(attributes.get("is_paid"), bool)
        else None,
    }
    images: list[tuple[str, dict[str, MetadataValue | None]]] = [
        (src, {"image_kind": "inline", "alt_text": alt}) for src, alt in body.images
    ]
    images += [(url, {"image_kind": "embed"}) for url in _embed_images(attributes)]
    for url, fields in images:
        yield ImageCandidate(
            image_url=url,
            page_url=page,
            title=title,
            domain="patreon.com",
            extra=compact({**shared, **fields}),
        )


def _related_id(resource: Mapping[str, Any], name: str) -> str | None:
    relationships = resource.get("relationships")
    if not isinstance(relationships, Mapping):
        return None
    related = relationships.get(name)
    data = related.get("data") if isinstance(related, Mapping) else None
    return text(data.get("id")) if isinstance(data, Mapping) else None
