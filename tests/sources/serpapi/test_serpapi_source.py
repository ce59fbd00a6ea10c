"""SerpApiSource against FakeSerpApi: the real ``serpapi`` client over loopback HTTP."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from serpapi_helpers import source_for

from img2img.errors import (
    ConfigurationError,
    ServiceUnavailableError,
)
from img2img.models import ImageCandidate
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi.google_images import (
    PAGE_SIZE,
    SOCIAL_MEDIA_SITES,
    SerpApiSource,
    build_query,
)
from img2img.testing.contracts import ImageSourceContract
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

if TYPE_CHECKING:
    from PIL import Image

RECORDED_PAGE = Path(__file__).parents[2] / "data" / "serpapi" / "google-images-page.json"


def recorded_results() -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = json.loads(RECORDED_PAGE.read_text())["images_results"]
    return results


def result(n: int, **fields: Any) -> dict[str, Any]:
    """One ``images_results`` entry with distinct URLs for ``n``."""
    return {
        "position": n + 1,
        "thumbnail": f"https://serpapi.com/searches/x/images/{n}.jpeg",
        "source": "example.com",
        "title": f"picture {n}",
        "link": f"https://example.com/p/{n}",
        "original": f"https://example.com/img/{n}.jpg",
        **fields,
    }


class TestSerpApiSourceContract(ImageSourceContract):
    @pytest.fixture
    def source(self, serp: FakeSerpApi) -> SerpApiSource:
        return source_for(serp)


# -- paging -------------------------------------------------------------------


def test_pages_past_100_results_through_ijn(serp: FakeSerpApi) -> None:
    candidates = list(source_for(serp).discover("eiffel tower", limit=250))
    assert len(candidates) == 250
    assert serp.pages_requested() == [0, 1, 2]
    assert {r.param("q") for r in serp.requests} == {"eiffel tower"}
    assert {r.param("engine") for r in serp.requests} == {"google_images"}
    assert [c.position for c in candidates] == list(range(1, 251))
    assert len({c.image_url for c in candidates}) == 250


def test_stops_at_limit_without_asking_for_more_pages(serp: FakeSerpApi) -> None:
    assert len(list(source_for(serp).discover("eiffel tower", limit=150))) == 150
    assert serp.pages_requested() == [0, 1]


def test_is_lazy(serp: FakeSerpApi) -> None:
    found = source_for(serp).discover("eiffel tower", limit=1000)
    first = [next(found) for _ in range(5)]
    assert len(first) == 5
    assert serp.pages_requested() == [0]


def test_a_short_page_is_the_last(serp: FakeSerpApi) -> None:
    assert len(list(source_for(serp).discover("eiffel tower", limit=1000))) == 250
    assert serp.pages_requested() == [0, 1, 2]  # page 2 held 50: no ijn=3


def test_a_page_without_next_is_the_last(serp: FakeSerpApi) -> None:
    serp.reset(total_results=2 * PAGE_SIZE)
    assert len(list(source_for(serp).discover("tower", limit=1000))) == 200
    assert serp.pages_requested() == [0, 1]
    assert json.loads(_raw_page(serp, 1))["serpapi_pagination"].get("next") is None


def _raw_page(fake: FakeSerpApi, ijn: int) -> str:
    params = {"engine": "google_images", "q": "tower", "ijn": str(ijn), "api_key": fake.api_key}
    return httpx.get(fake.url + "/search", params=params).text


def test_no_results_is_empty_not_an_error(serp: FakeSerpApi) -> None:
    serp.reset(total_results=0)
    assert list(source_for(serp).discover("qwzxv nothing", limit=10)) == []
    assert serp.pages_requested() == [0]
    assert FakeSerpApi.NO_RESULTS in _raw_page(serp, 0)


def test_no_results_on_a_later_page_ends_the_search(serp: FakeSerpApi) -> None:
    full_page = json.loads(_raw_page(serp, 0))
    serp.reset(total_results=0)
    serp.queue(Reply.json(full_page))
    assert len(list(source_for(serp).discover("tower", limit=500))) == PAGE_SIZE
    assert serp.pages_requested() == [0, 1]


def test_drops_duplicate_image_urls_across_pages(serp: FakeSerpApi) -> None:
    results = [result(n) for n in range(PAGE_SIZE)]
    results += [result(n % 30) if n < 130 else result(n) for n in range(PAGE_SIZE, 150)]
    serp.reset(results=results)
    urls = [c.image_url for c in source_for(serp).discover("tower", limit=1000)]
    assert len(urls) == len(set(urls)) == 120


def test_a_page_with_nothing_new_stops_paging(serp: FakeSerpApi) -> None:
    results = [result(n % PAGE_SIZE) for n in range(3 * PAGE_SIZE)]
    serp.reset(results=results)
    assert len(list(source_for(serp).discover("tower", limit=1000))) == PAGE_SIZE
    assert serp.pages_requested() == [0, 1]


def test_limit_zero_sends_no_search(serp: FakeSerpApi) -> None:
    assert list(source_for(serp).discover("tower", limit=0)) == []
    assert serp.requests == []


# -- field mapping ------------------------------------------------------------


def test_maps_the_recorded_page(serp: FakeSerpApi) -> None:
    recorded = recorded_results()
    serp.reset(results=recorded)
    first, second, third = source_for(serp).discover("eiffel tower postcard", limit=10)
    assert first == ImageCandidate(
        image_url=recorded[0]["original"],
        page_url=recorded[0]["link"],
        title=recorded[0]["title"],
        domain="example-postcards.com",
        thumbnail_url=recorded[0]["thumbnail"],
        width=1200,
        height=800,
        position=1,
        extra={"source_name": "example-postcards.com", "is_product": False},
    )
    assert second.domain == "pinterest.com"
    assert second.page_url == "https://www.pinterest.com/pin/123456789/"
    assert second.extra == {
        "source_name": "pinterest.com",
        "is_product": True,
        "in_stock": True,
        "tag": "Print",
    }
    # Result 3 has no original: its thumbnail stands in, and the original's
    # size is kept as provenance rather than passed off as the thumbnail's.
    assert "original" not in recorded[2]
    assert third.image_url == third.thumbnail_url == recorded[2]["thumbnail"]
    assert (third.width, third.height) == (None, None)
    assert third.extra["original_width"] == third.extra["original_height"] == 1080
    assert third.page_url == "https://www.instagram.com/p/XYZ123/"


def test_domain_falls_back_to_the_page_host_when_source_is_a_name(serp: FakeSerpApi) -> None:
    results = [result(0, source="Wikimedia Commons", link="https://www.commons.example/w/1")]
    serp.reset(results=results)
    (candidate,) = source_for(serp).discover("tower")
    assert candidate.domain == "commons.example"
    assert candidate.extra["source_name"] == "Wikimedia Commons"


def test_yields_only_http_image_urls(serp: FakeSerpApi) -> None:
    results = [
        result(0, original="file:///etc/passwd", thumbnail="data:image/jpeg;base64,AAAA"),
        result(1, original="file:///etc/hosts"),  # falls back to the https thumbnail
        result(2, original="gopher://example.com/x", thumbnail=None, link="javascript:alert(1)"),
        result(3, original="HTTPS://example.com/upper.jpg", original_width=True),
    ]
    serp.reset(results=results)
    candidates = list(source_for(serp).discover("tower"))
    assert [c.image_url for c in candidates] == [
        results[1]["thumbnail"],
        "HTTPS://example.com/upper.jpg",
    ]
    assert candidates[1].width is None  # a bool is not a size
    assert all(c.page_url is None or c.page_url.startswith("https://") for c in candidates)


def test_generated_results_follow_the_recorded_shape(serp: FakeSerpApi) -> None:
    page = json.loads(_raw_page(serp, 0))
    recorded = json.loads(RECORDED_PAGE.read_text())
    assert page.keys() == recorded.keys()
    assert set(page["images_results"][0]) >= set(recorded["images_results"][0]) - {"tag"}
    assert "original" not in page["images_results"][2]


# -- options ------------------------------------------------------------------


def test_site_restriction_builds_site_operators() -> None:
    assert build_query("cat", sites=["instagram.com"]) == "cat site:instagram.com"
    assert (
        build_query("  cat  pics ", sites=["https://www.Instagram.com/", "x.com"])
        == "cat pics (site:instagram.com OR site:x.com)"
    )
    assert build_query("cat", exclude_sites=["pinterest.com"]) == "cat -site:pinterest.com"


def test_site_restricted_search_finds_only_those_sites(serp: FakeSerpApi) -> None:
    source = source_for(serp, sites=SOCIAL_MEDIA_SITES[:2])
    candidates = list(source.discover("eiffel tower", limit=20))
    assert serp.requests[0].param("q") == "eiffel tower (site:instagram.com OR site:facebook.com)"
    assert {c.domain for c in candidates} == {"instagram.com", "facebook.com"}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"safe_search": True}, {"safe": "active"}),
        ({"safe_search": False}, {"safe": "off"}),
        ({"country": "FR", "language": "fr"}, {"gl": "fr", "hl": "fr"}),
        ({"params": {"tbs": "itp:photo", "google_domain": "google.fr"}}, {"tbs": "itp:photo"}),
        ({}, {"safe": None, "gl": None, "hl": None, "tbs": None}),
    ],
)
def test_search_options_reach_serpapi(
    serp: FakeSerpApi, options: dict[str, Any], expected: dict[str, str | None]
) -> None:
    list(source_for(serp, **options).discover("tower", limit=150))
    for request in serp.requests:  # every page, not just the first
        for name, value in expected.items():
            assert request.param(name) == value


@pytest.mark.parametrize(
    "options",
    [
        {"sites": "instagram.com"},
        {"sites": ["not a site"]},
        {"exclude_sites": ["x.com) OR (site:y.com"]},
        {"params": {"ijn": "5"}},
        {"params": {"api_key": "other"}},
        {"timeout": 0},
        {"base_url": "file:///tmp"},
    ],
)
def test_rejects_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SerpApiSource(api_key="k", **options)


def test_sources_keep_their_own_backend() -> None:
    from serpapi import GoogleSearch

    with FakeSerpApi(total_results=5) as one, FakeSerpApi(total_results=7) as two:
        assert len(list(source_for(one).discover("a"))) == 5
        assert len(list(source_for(two).discover("b"))) == 7
        assert len(one.requests) == len(two.requests) == 1
    assert GoogleSearch.BACKEND == "https://serpapi.com"


def test_sends_a_sane_timeout(serp: FakeSerpApi) -> None:
    serp.latency = 1.0
    source = source_for(serp, timeout=0.2, retry=RetryPolicy(attempts=1))
    with pytest.raises(ServiceUnavailableError, match=r"within 0\.2 s"):
        list(source.discover("tower"))
    assert SerpApiSource(api_key="k").timeout == 30.0


# -- end to end ---------------------------------------------------------------


def test_index_and_search_through_the_fake_service(
    serp: FakeSerpApi, photos: dict[str, Image.Image]
) -> None:
    from img2img import HashEmbedder, HttpFetcher, ImageSearchClient, InMemoryStore
    from img2img.net.guard import LOOPBACK_NETWORKS

    names = list(photos)[:6]
    blobs = {}
    for name in names:
        buffer = io.BytesIO()
        photos[name].save(buffer, format="PNG")
        blobs[name] = buffer.getvalue()

    def serve(request: RecordedRequest) -> Reply:
        number = int(re.findall(r"\d+", request.path)[-1])  # .../eiffel-tower-<n>.jpg
        body = blobs[names[(number - 1) % len(names)]]
        return Reply(body=body, headers={"Content-Type": "image/png"})

    fetcher = HttpFetcher(allowed_networks=LOOPBACK_NETWORKS)
    with LoopbackServer(serve) as images:
        serp.reset(total_results=len(names), image_base_url=images.url)
        client = ImageSearchClient(
            source=source_for(serp), embedder=HashEmbedder(), store=InMemoryStore(), fetcher=fetcher
        )
        report = client.index("eiffel tower", limit=50)
    fetcher.close()
    assert (report.indexed, report.failures) == (len(names), ())
    assert serp.pages_requested() == [0]

    top = client.search(photos[names[3]], k=1)[0]
    assert top.score == pytest.approx(1.0, abs=1e-4)
    assert top.image_url == f"{images.url}/img/eiffel-tower-4.jpg"
    assert top.page_url == f"https://{top.domain}/post/eiffel-tower-4"
    assert top.keyphrase == "eiffel tower"
    assert top.metadata["source_name"] == top.domain
    assert top.metadata["position"] == 4


def test_a_missing_pagination_block_does_not_stop_paging(serp: FakeSerpApi) -> None:
    # Without the block, full pages keep the search going until a short page
    # or the "no results" answer, so a run is never capped at one page.
    serp.reset(total_results=3 * PAGE_SIZE + 40, pagination=False)
    assert len(list(source_for(serp).discover("tower", limit=1000))) == 3 * PAGE_SIZE + 40
    assert serp.pages_requested() == [0, 1, 2, 3]
    assert "serpapi_pagination" not in json.loads(_raw_page(serp, 0))

    serp.reset(total_results=2 * PAGE_SIZE, pagination=False)
    assert len(list(source_for(serp).discover("tower", limit=1000))) == 2 * PAGE_SIZE
    assert serp.pages_requested() == [0, 1, 2]  # page 2 answers "no results"
