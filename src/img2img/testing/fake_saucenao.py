"""A fake SauceNAO (``/search.php``, ``output_type=2``) on 127.0.0.1, with its quotas.

    with FakeSauceNao(short_limit=4, long_limit=100) as sauce:
        source = sauce.source()                        # SauceNaoSource on the fake
        sauce.serve([sauce_result("http://127.0.0.1:9/t.jpg", ["https://www.pixiv.net/artworks/1"])])
        claims = list(source.lookup("https://art.example/x.png"))

It reads ``api_key``, ``url`` or a multipart ``file`` from the query string
or the body, counts every search against a 30-second window and a daily
allowance as SauceNAO does, and tells what is left in each reply's
``header``. A spent window or day gets a 429 whose header says which; a wrong
key a 403. The clock is injectable so tests need not wait.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from img2img.sources.saucenao.source import SauceNaoSource
from img2img.testing.http import RecordedRequest, Reply, form_fields
from img2img.testing.service import FakeService, RateWindow

__all__ = ["FakeSauceNao", "sauce_result"]

_RECORDED = [
    {
        "header": {
            "similarity": "94.12",
            "thumbnail": "https://img1.saucenao.com/res/pixiv/1234/manga/12345678_p0.jpg?auth=x&exp=1",
            "index_id": 5,
            "index_name": "Index #5: Pixiv Images - 12345678_p0.jpg",
            "dupes": 0,
            "hidden": 0,
        },
        "data": {
            "ext_urls": ["https://www.pixiv.net/member_illust.php?mode=medium&illust_id=12345678"],
            "title": "Evening bridge",
            "pixiv_id": 12345678,
            "member_name": "an artist",
            "member_id": 42,
        },
    },
    {
        "header": {
            "similarity": "88.40",
            "thumbnail": "https://img3.saucenao.com/booru/9/a/9a8b7c6d5e_2.jpg",
            "index_id": 9,
            "index_name": "Index #9: Danbooru - 9a8b7c6d5e.jpg",
            "dupes": 1,
            "hidden": 0,
        },
        "data": {
            "ext_urls": [
                "https://danbooru.donmai.us/post/show/1000",
                "https://gelbooru.com/index.php?page=post&s=view&id=2000",
            ],
            "creator": "an artist",
            "source": "https://twitter.com/an_artist/status/1",
        },
    },
]


def sauce_result(
    thumbnail: str, pages: Sequence[str], *, similarity: float = 92.0, index: str = "Pixiv Images"
) -> dict[str, Any]:
    """One result in SauceNAO's shape: ``thumbnail`` to verify, ``pages`` where the work is."""
    return {
        "header": {
            "similarity": f"{similarity:.2f}",
            "thumbnail": thumbnail,
            "index_id": 5,
            "index_name": f"Index #5: {index} - work.jpg",
            "dupes": 0,
            "hidden": 0,
        },
        "data": {"ext_urls": list(pages), "title": "A work"},
    }


class FakeSauceNao(FakeService):
    """SauceNAO's search API with its short (30 s) and long (daily) limits.

    Args:
        api_key: the key the fake accepts.
        short_limit: searches per 30 seconds.
        long_limit: searches per day.
        clock: seconds, for the windows.
    """

    def __init__(
        self,
        *,
        api_key: str = "saucenao-test-key",
        short_limit: int = 4,
        long_limit: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.short_limit = short_limit
        self.long_limit = long_limit
        self._short = RateWindow(clock)
        self._long = RateWindow(clock)
        self._results: list[Any] = copy.deepcopy(_RECORDED)
        #: Each search answered: ``("url", url)`` or ``("file", bytes)``.
        self.searches: list[tuple[str, Any]] = []

    def source(self, **options: Any) -> SauceNaoSource:
        """A :class:`SauceNaoSource` with this fake's key and address."""
        options.setdefault("api_key", self.api_key)
        options.setdefault("sleep", lambda seconds: None)
        return SauceNaoSource(base_url=self.url, **options)

    def serve(self, results: Sequence[Any]) -> None:
        """Answer with these ``results`` entries (as given, hostile ones too)."""
        with self._lock:
            self._results = copy.deepcopy(list(results))

    def _fields(self, request: RecordedRequest) -> dict[str, Any]:
        fields: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            fields.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
        for name, value in form_fields(request).items():
            fields[name] = value if name == "file" else value.decode()
        return fields

    def _header(
        self, short_used: int, long_used: int, status: int = 0, message: str | None = None
    ) -> dict[str, Any]:
        header: dict[str, Any] = {
            "user_id": "1",
            "account_type": "1",
            "short_limit": str(self.short_limit),
            "long_limit": str(self.long_limit),
            "short_remaining": max(0, self.short_limit - short_used),
            "long_remaining": max(0, self.long_limit - long_used),
            "status": status,
            "results_requested": 16,
            "search_depth": "128",
            "minimum_similarity": 50.0,
            "results_returned": 0,
        }
        if message:
            header["message"] = message
        return header

    def _day_used(self) -> int:
        return self._long.used

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.path != "/search.php":
            return Reply(status=404, body=b"Not found")
        fields = self._fields(request)
        if fields.get("api_key") != self.api_key:
            return Reply.json(
                {"header": {"status": -1, "message": "Invalid or wrong API key"}}, status=403
            )
        with self._lock:
            ok, used, _ = self._short.take(self.short_limit, 30.0)
            if not ok:
                header = self._header(used, self._day_used(), -2, "Search Rate Too High.")
                return Reply.json({"header": header}, status=429)
            day_ok, day_used, _ = self._long.take(self.long_limit, 86_400.0)
            if not day_ok:
                header = self._header(used, day_used, -2, "Daily Search Limit Exceeded.")
                return Reply.json({"header": header}, status=429)
            if "file" not in fields and not fields.get("url"):
                return Reply.json(
                    {"header": self._header(used, day_used, -3, "No image given.")}, status=200
                )
            self.searches.append(
                ("file", fields["file"]) if "file" in fields else ("url", fields["url"])
            )
            results = copy.deepcopy(self._results)[: int(fields.get("numres") or 16)]
            header = self._header(used, day_used)
            header["results_returned"] = len(results)
            return Reply.json({"header": header, "results": results})
