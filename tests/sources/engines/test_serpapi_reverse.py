"""Bing and Google reverse-image search through SerpAPI, against FakeSerpApi."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.errors import ConfigurationError, QuotaExhaustedError
from img2img.models import UploadedImage
from img2img.sources.serpapi.bing_reverse import BingReverseImageSource
from img2img.sources.serpapi.google_reverse import GoogleReverseImageSource
from img2img.testing.contracts import ReverseImageSourceContract
from img2img.testing.fake_serpapi import FakeSerpApi

QUERY = "https://photos.example.org/eiffel.jpg"


@pytest.fixture
def serp() -> Iterator[FakeSerpApi]:
    with FakeSerpApi() as fake:
        yield fake


class _Hosting:
    """An uploader that puts the image at a public URL of yours."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def upload(self, data: bytes) -> UploadedImage:
        self.sent.append(data)
        return UploadedImage(url="https://my-cdn.example/q.jpg", size_bytes=len(data))


class TestBingContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, serp: FakeSerpApi) -> BingReverseImageSource:
        return serp.bing_source(uploader=_Hosting())


class TestGoogleReverseContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, serp: FakeSerpApi) -> GoogleReverseImageSource:
        return serp.google_reverse_source(uploader=_Hosting())


def test_bing_reads_pages_including_as_exact_and_related_content_as_similar(
    serp: FakeSerpApi,
) -> None:
    source = serp.bing_source(market="en-GB")
    exact = list(source.lookup(QUERY, kind="exact"))
    similar = list(source.lookup(QUERY, kind="similar"))
    assert [c.page_url for c in exact] == [
        "https://travel.example.com/paris-spring",
        "https://walls.example.net/paris/12",
    ]
    assert exact[0].image_url == "https://travel.example.com/img/eiffel.jpg"
    assert (exact[0].width, exact[0].height) == (1200, 800)
    assert exact[0].extra["first_seen_date"] == "2021-04-18"
    assert similar[0].image_url == "https://photos.example.de/img/tower-dusk.jpg"
    request = serp.requests[0]
    assert (request.param("engine"), request.param("image_url"), request.param("mkt")) == (
        "bing_reverse_image",
        QUERY,
        "en-GB",
    )


def test_google_reverse_reads_image_results_and_inline_images(serp: FakeSerpApi) -> None:
    source = serp.google_reverse_source(language="fr", country="FR")
    wiki, blog = source.lookup(QUERY)
    assert (wiki.image_url, wiki.page_url) == (
        "https://upload.wikimedia.example/eiffel.jpg",
        "https://en.wikipedia.example/wiki/Eiffel_Tower",
    )
    assert wiki.extra["first_seen_date"] == "2020-01-03"
    assert (
        blog.image_url == "https://serpapi.example/thumb/2.jpg"
    )  # no original: the thumbnail shown
    tour = next(iter(source.lookup(QUERY, kind="similar")))
    assert (tour.image_url, tour.page_url) == (
        "https://pics.example.fr/img/tour.jpg",
        "https://pics.example.fr/tour",
    )
    assert (serp.requests[0].param("hl"), serp.requests[0].param("gl")) == ("fr", "fr")


def test_a_local_image_needs_an_uploader_that_gives_a_url(serp: FakeSerpApi) -> None:
    hosting = _Hosting()
    claims = list(serp.bing_source(uploader=hosting).lookup(b"\xff\xd8jpeg"))
    assert claims
    assert hosting.sent == [b"\xff\xd8jpeg"]
    assert serp.reverse.searches[-1] == ("bing_reverse_image", "https://my-cdn.example/q.jpg")
    # SerpAPI's own upload gives an id that only Lens documents: the lookup says what to do.
    with pytest.raises(ConfigurationError, match="public image URL"):
        list(serp.google_reverse_source().lookup(UploadedImage(upload_id="abc")))


def test_a_spent_plan_is_a_quota_error(serp: FakeSerpApi) -> None:
    serp.queue(serp.error(429, FakeSerpApi.OUT_OF_SEARCHES))
    with pytest.raises(QuotaExhaustedError):
        list(serp.bing_source().lookup(QUERY))


def test_hostile_entries_are_skipped(serp: FakeSerpApi) -> None:
    serp.reverse.serve(
        "bing_reverse_image",
        {
            "pages_including": [
                "x",
                {"original": "javascript:1"},
                {"original": {"link": "https://ok.example/i.jpg"}, "link": "ftp://p"},
            ]
        },
    )
    (claim,) = serp.bing_source().lookup(QUERY)
    assert (claim.image_url, claim.page_url) == ("https://ok.example/i.jpg", None)
