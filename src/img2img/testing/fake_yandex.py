"""A fake Yandex Cloud Search API (``/v2/image/search_by_image``) on 127.0.0.1.

    with FakeYandex() as yandex:
        source = yandex.source()                       # YandexSource on the fake
        yandex.serve([yandex_image("http://127.0.0.1:9/a.jpg", "http://127.0.0.1:9/p")])
        claims = list(source.lookup("https://photos.example.org/eiffel.jpg"))

It takes exactly one of ``url``, ``data`` (base64) or ``id`` as the API does
(anything else is a 400 with a gRPC-style error body), checks the
``Authorization: Api-Key ...`` header, pages the images it serves ``per_page``
at a time with ``page`` and ``maxPage``, and returns the CBIR ``id`` of the
query image so later pages can name it. A wrong key gets 401.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from collections.abc import Sequence
from typing import Any

from img2img.sources.yandex.source import YandexSource
from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.service import FakeService

__all__ = ["FakeYandex", "yandex_image"]

#: Three images in the documented shape, served until a test serves others.
_RECORDED = [
    {
        "url": f"https://img{n}.example.ru/photo-{n}.jpg",
        "format": "IMAGE_FORMAT_JPEG",
        "width": str(800 + n),
        "height": "600",
        "passage": f"A photo, page text {n}",
        "host": f"img{n}.example.ru",
        "pageTitle": f"Page {n}",
        "pageUrl": f"https://site{n}.example.ru/post/{n}",
    }
    for n in range(1, 4)
]


def yandex_image(url: str, page_url: str, *, title: str = "A page") -> dict[str, Any]:
    """One ``images[]`` entry in the documented shape."""
    return {
        "url": url,
        "format": "IMAGE_FORMAT_JPEG",
        "width": "512",
        "height": "512",
        "passage": "",
        "host": "example.org",
        "pageTitle": title,
        "pageUrl": page_url,
    }


def _error(status: int, code: int, message: str) -> Reply:
    return Reply.json({"code": code, "message": message, "details": []}, status=status)


class FakeYandex(FakeService):
    """The image-search-by-image call of the Yandex Cloud Search API.

    Args:
        api_key: the key the fake accepts.
        per_page: images on one page.
    """

    def __init__(self, *, api_key: str = "yandex-test-key", per_page: int = 2) -> None:
        super().__init__()
        self.api_key = api_key
        self.per_page = per_page
        self._images: list[Any] = copy.deepcopy(_RECORDED)
        #: CBIR ids handed out, by the query they stand for.
        self.ids: dict[str, str] = {}

    def source(self, **options: Any) -> YandexSource:
        """A :class:`YandexSource` with this fake's key and address."""
        options.setdefault("api_key", self.api_key)
        options.setdefault("folder_id", "b1gfolder")
        options.setdefault("sleep", lambda seconds: None)
        return YandexSource(base_url=self.url, **options)

    def serve(self, images: Sequence[Any]) -> None:
        """Answer with these ``images[]`` entries (as given, hostile ones too)."""
        with self._lock:
            self._images = copy.deepcopy(list(images))

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Api-Key {self.api_key}":
            return _error(401, 16, "The API key is invalid")
        if request.method != "POST" or request.path != "/v2/image/search_by_image":
            return _error(404, 5, "Not found")
        try:
            body = request.json()
        except ValueError:
            return _error(400, 3, "Request body is not JSON")
        given = [name for name in ("url", "data", "id") if body.get(name)]
        if len(given) != 1:
            return _error(400, 3, "Exactly one of url, data or id must be set")
        if given == ["data"]:
            try:
                base64.b64decode(body["data"], validate=True)
            except (binascii.Error, ValueError):
                return _error(400, 3, "data is not base64")
        query = str(body[given[0]])
        cbir = body["id"] if given == ["id"] else hashlib.sha256(query.encode()).hexdigest()[:24]
        page = int(body.get("page") or 0)
        with self._lock:
            self.ids[cbir] = given[0]
            images = self._images
            start = page * self.per_page
            chunk = images[start : start + self.per_page]
            last = max(0, (len(images) - 1) // self.per_page)
        return Reply.json({"images": chunk, "page": str(page), "maxPage": str(last), "id": cbir})
