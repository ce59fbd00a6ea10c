"""UrlListSource: images at URLs you already have."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from img2img.errors import ConfigurationError
from img2img.models import ImageCandidate
from img2img.provenance import domain_of

__all__ = ["UrlListSource"]


class UrlListSource:
    """An ``ImageSource`` over a list of ``http(s)`` image URLs, optionally with the
    page each one is posted on (``{image_url: page_url}``)."""

    def __init__(self, urls: Iterable[str] | dict[str, str]) -> None:
        pages = dict(urls) if isinstance(urls, dict) else dict.fromkeys(urls, "")
        for url in pages:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ConfigurationError(f"UrlListSource takes http(s) URLs, got {url!r}")
        self._pages = pages

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        for position, (url, page) in enumerate(list(self._pages.items())[:limit], start=1):
            yield ImageCandidate(
                image_url=url,
                page_url=page or None,
                domain=domain_of(page or url),
                position=position,
            )
