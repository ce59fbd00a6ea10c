"""FakeSerpApi: SerpAPI's ``google_images`` and ``google_lens`` searches on 127.0.0.1, for tests.

    with FakeSerpApi(total_results=250) as serp:
        source = serp.source()  # SerpApiSource(api_key=serp.api_key, base_url=serp.url)
        assert len(list(source.discover("eiffel tower", limit=300))) == 250
        assert serp.pages_requested() == [0, 1, 2]

It answers the real ``serpapi`` client with pages in SerpAPI's recorded
response format (100 results a page, numbered by ``ijn``), deterministic
results generated from the query, and SerpAPI's error bodies: 401 for a wrong
key, 200 with "hasn't returned any results" past the end. Faults queued with
:meth:`FakeSerpApi.queue` are served first, one per search, so a test can play
a 429 then a 500 then a good page. Every request is recorded.

``engine=google_lens`` searches and the ``POST /image`` upload are answered by
:attr:`FakeSerpApi.lens`, a :class:`~img2img.testing.fake_lens.FakeLens`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from img2img.testing.fake_lens import FakeLens
from img2img.testing.fake_serp_reverse import REVERSE_ENGINES, FakeSerpReverse
from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.service import FakeService

if TYPE_CHECKING:
    from img2img.sources.serpapi.bing_reverse import BingReverseImageSource
    from img2img.sources.serpapi.google_images import SerpApiSource
    from img2img.sources.serpapi.google_lens import GoogleLensSource
    from img2img.sources.serpapi.google_reverse import GoogleReverseImageSource

__all__ = ["DEFAULT_SITES", "FakeSerpApi"]

DEFAULT_SITES = (
    "example-postcards.com",
    "pinterest.com",
    "instagram.com",
    "travel-blog.example",
    "flickr.com",
    "news.example",
    "reddit.com",
)
_PAGE_SIZE = 100
_SITE_OPERATOR = re.compile(r"(?<![-\w])site:(\S+?)\)?(?=\s|$)")
_OPERATORS = re.compile(r"-?\(?-?site:\S+|\bOR\b|[()]")


class FakeSerpApi(FakeService):
    """A loopback SerpAPI that serves ``google_images`` pages.

    Args:
        total_results: how many results the generated listing holds for any query.
        api_key: the only key accepted; any other gets SerpAPI's 401 body.
        image_base_url: where generated ``original`` and ``thumbnail`` URLs
            point (e.g. a :class:`LoopbackServer` serving real images);
            defaults to made-up ``https`` hosts.
        results: serve exactly these ``images_results`` entries instead of
            generated ones (e.g. a recorded page), 100 to a page.
        missing_original_every: every n-th generated result has no
            ``original``, as happens in real listings (0: never).
        latency: seconds to wait before answering, to exercise timeouts.
        pagination: send the ``serpapi_pagination`` block; ``False`` leaves it
            out, as some real answers do.
    """

    INVALID_KEY = "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"
    OUT_OF_SEARCHES = "Your account has run out of searches."
    THROUGHPUT_LIMIT = (
        "Your account has exceeded the hourly throughput limit. Please retry in a moment."
    )
    NO_RESULTS = "Google hasn't returned any results for this query."

    def __init__(
        self,
        *,
        total_results: int = 250,
        api_key: str = "fake-serpapi-key",
        image_base_url: str | None = None,
        results: Sequence[Mapping[str, Any]] | None = None,
        missing_original_every: int = 10,
        latency: float = 0.0,
        pagination: bool = True,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        #: The Google Lens searches and image uploads; see :class:`FakeLens`.
        self.lens = FakeLens(self)
        #: The Bing and Google reverse-image searches; see :class:`FakeSerpReverse`.
        self.reverse = FakeSerpReverse()
        self.reset(
            total_results=total_results,
            image_base_url=image_base_url,
            results=results,
            missing_original_every=missing_original_every,
            latency=latency,
            pagination=pagination,
        )

    # -- test controls -------------------------------------------------------

    @staticmethod
    def error(status: int, message: str, *, retry_after: str | None = None) -> Reply:
        """A SerpAPI error reply: ``{"error": message}`` with ``status``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        return Reply.json({"error": message}, status=status, headers=headers)

    def reset(
        self,
        *,
        total_results: int = 250,
        image_base_url: str | None = None,
        results: Sequence[Mapping[str, Any]] | None = None,
        missing_original_every: int = 10,
        latency: float = 0.0,
        pagination: bool = True,
    ) -> None:
        """Serve a new listing (arguments as for the constructor); forget requests and faults.

        Lets one server, which takes a moment to stop, serve many tests.
        """
        with self._lock:
            self.image_base_url = image_base_url.rstrip("/") if image_base_url else None
            self.results = [dict(r) for r in results] if results is not None else None
            self.total_results = len(self.results) if self.results is not None else total_results
            self.missing_original_every = missing_original_every
            self.latency = latency
            self.pagination = pagination
            self._faults.clear()
            self._server.requests.clear()
        self.lens.reset()

    def source(self, **options: Any) -> SerpApiSource:
        """A :class:`SerpApiSource` pointed at this server with its key.

        ``options`` are passed on, e.g. ``sleep=waits.append`` so retries do not wait.
        """
        from img2img.sources.serpapi.google_images import SerpApiSource

        options.setdefault("api_key", self.api_key)
        return SerpApiSource(base_url=self.url, **options)

    def lens_source(self, **options: Any) -> GoogleLensSource:
        """A :class:`GoogleLensSource` pointed at this server with its key (``options`` passed on)."""
        from img2img.sources.serpapi.google_lens import GoogleLensSource

        options.setdefault("api_key", self.api_key)
        return GoogleLensSource(base_url=self.url, **options)

    def bing_source(self, **options: Any) -> BingReverseImageSource:
        """A :class:`BingReverseImageSource` on this fake."""
        from img2img.sources.serpapi.bing_reverse import BingReverseImageSource

        options.setdefault("api_key", self.api_key)
        options.setdefault("sleep", lambda seconds: None)
        return BingReverseImageSource(base_url=self.url, **options)

    def google_reverse_source(self, **options: Any) -> GoogleReverseImageSource:
        """A :class:`GoogleReverseImageSource` on this fake."""
        from img2img.sources.serpapi.google_reverse import GoogleReverseImageSource

        options.setdefault("api_key", self.api_key)
        options.setdefault("sleep", lambda seconds: None)
        return GoogleReverseImageSource(base_url=self.url, **options)

    def pages_requested(self) -> list[int]:
        """The ``ijn`` of each request, in order (``-1`` where it was missing)."""
        return [int(r.param("ijn", "-1") or -1) for r in self.requests]

    # -- the service ---------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        return super()._handle(request)

    def _answer(self, request: RecordedRequest) -> Reply:
        if request.path == "/image":
            return self.lens.upload(request)
        if request.path not in ("/search", "/search.json"):
            return self.error(404, f"Unknown path {request.path}")
        if request.param("api_key") != self.api_key:
            return self.error(401, self.INVALID_KEY)
        if request.param("engine") == "google_lens":
            return self.lens.search(request)
        if request.param("engine") in REVERSE_ENGINES:
            return self.reverse.search(request)
        if request.param("engine") != "google_images":
            return self.error(400, "Unsupported `engine` parameter.")
        query = request.param("q") or ""
        if not query.strip():
            return self.error(400, "Missing query `q` parameter.")
        ijn_text = request.param("ijn", "0") or "0"
        if not ijn_text.isdigit():
            return self.error(400, "Invalid `ijn` parameter.")
        return Reply.json(self._page(request, query, int(ijn_text)))

    def _page(self, request: RecordedRequest, query: str, ijn: int) -> dict[str, Any]:
        search_id = hashlib.sha1(f"{query}|{ijn}".encode()).hexdigest()[:24]
        params = {key: values[0] for key, values in request.query.items() if key != "api_key"}
        body: dict[str, Any] = {
            "search_metadata": {
                "id": search_id,
                "status": "Success",
                "json_endpoint": f"{self.url}/searches/{search_id}.json",
                "created_at": "2026-11-24 03:00:00 UTC",
                "processed_at": "2026-11-24 03:00:00 UTC",
                "google_images_url": "https://www.google.com/search?"
                f"q={quote_plus(query)}&tbm=isch&ijn={ijn}",
                "total_time_taken": 0.01,
            },
            "search_parameters": {
                "engine": "google_images",
                "q": query,
                "google_domain": "google.com",
                "ijn": str(ijn),
                "device": "desktop",
                **{k: v for k, v in params.items() if k in ("gl", "hl", "safe", "tbs")},
            },
        }
        start, end = ijn * _PAGE_SIZE, min((ijn + 1) * _PAGE_SIZE, self.total_results)
        if start >= end:
            body["error"] = self.NO_RESULTS
            return body
        body["images_results"] = [self._result(n, query, search_id) for n in range(start, end)]
        pagination: dict[str, Any] = {"current": ijn}
        if end < self.total_results:
            pagination["next"] = (
                f"{self.url}/search.json?engine=google_images&ijn={ijn + 1}&q={quote_plus(query)}"
            )
        if self.pagination:
            body["serpapi_pagination"] = pagination
        return body

    def _result(self, n: int, query: str, search_id: str) -> dict[str, Any]:
        if self.results is not None:
            return dict(self.results[n])
        # Honour site: operators, so a restricted search finds only those sites.
        sites = [s.lower().removeprefix("www.") for s in _SITE_OPERATOR.findall(query)]
        sites = sites or list(DEFAULT_SITES)
        site = sites[n % len(sites)]
        plain = " ".join(_OPERATORS.sub(" ", query).split())
        slug = "-".join(re.findall(r"\w+", plain.lower())[:6]) or "image"
        number = n + 1
        image_base = self.image_base_url or f"https://images.{site}"
        thumb_base = self.image_base_url or f"https://serpapi.com/searches/{search_id}/images"
        result: dict[str, Any] = {
            "position": number,
            "thumbnail": f"{thumb_base}/thumb/{slug}-{number}.jpg",
            "related_content_id": f"rc{number:05d}",
            "serpapi_related_content_link": f"{self.url}/search.json?"
            f"engine=google_images_related_content&related_content_id=rc{number:05d}",
            "source": site,
            "source_logo": f"https://serpapi.com/searches/{search_id}/images/{number}-logo.png",
            "title": f"{plain} #{number} on {site}",
            "link": f"https://{site}/post/{slug}-{number}",
            "original": f"{image_base}/img/{slug}-{number}.jpg",
            "original_width": 640 + (n * 37) % 800,
            "original_height": 480 + (n * 53) % 600,
            "is_product": n % 4 == 1,
        }
        if self.missing_original_every and n % self.missing_original_every == 2:
            del result["original"]
        return result
