"""locate when things go wrong: the service refuses, claims are gone or not images, Lens finds nothing.

A systemic failure (key, plan, upload) raises before anything is stored; a bad
claim is reported beside the postings, never stored, and never stops the rest.
"""

from __future__ import annotations

from typing import Any

import pytest
from locate_helpers import COPIES, Web
from PIL import Image

from img2img import ImageSearchClient, ReverseImageSource
from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    ImageUploadError,
    RateLimitError,
)
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import Reply

COPY_PAGES = {page for page, _ in COPIES.values()}


def with_reverse_source(client: ImageSearchClient, source: ReverseImageSource) -> ImageSearchClient:
    """A client over ``client``'s embedder, store and fetcher that asks ``source`` instead."""
    return ImageSearchClient(
        embedder=client.embedder, store=client.store, fetcher=client.fetcher, reverse_source=source
    )


@pytest.fixture
def query_url(web: Web, bike: tuple[Image.Image, Image.Image]) -> str:
    """The query photo at a public address: Lens is sent the URL, nothing is uploaded."""
    web.files["/me/bike.jpg"] = jpeg_bytes(bike[0])
    return web.url("/me/bike.jpg")


def test_a_bad_key_raises_and_stores_nothing(
    client: ImageSearchClient, claimed: Any, serp: FakeSerpApi, web: Web, query_url: str
) -> None:
    refused = serp.lens_source(api_key="not-my-key", sleep=lambda s: None)
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        with_reverse_source(client, refused).locate(query_url)
    assert client.store.count() == 0
    assert web.downloads() == 1  # the query itself; no claim was downloaded


def test_an_exhausted_plan_raises_at_once(
    client: ImageSearchClient, claimed: Any, serp: FakeSerpApi, query_url: str
) -> None:
    serp.queue(FakeSerpApi.error(429, FakeSerpApi.OUT_OF_SEARCHES))
    with pytest.raises(RateLimitError, match="run out of searches"):
        client.locate(query_url)
    assert len(serp.requests) == 1
    assert client.store.count() == 0


def test_a_5xx_then_success_is_retried_and_costs_one_search(
    client: ImageSearchClient, claimed: Any, serp: FakeSerpApi, query_url: str
) -> None:
    serp.queue(FakeSerpApi.error(503, "Service temporarily unavailable"))
    found = client.locate(query_url)
    assert {p.page_url for p in found} == COPY_PAGES
    assert [r.path for r in serp.requests] == ["/search", "/search"]
    assert found.report.searches == 1


def test_claims_that_404_or_serve_html_are_rejected_and_the_rest_kept(
    client: ImageSearchClient, claimed: Any, web: Web, bike: tuple[Image.Image, Image.Image]
) -> None:
    gone, html = "/news/bike.jpg", "/forum/crop.jpg"
    del web.files[gone]
    web.replies[html] = Reply(
        body=b"<!doctype html><title>Log in to see this</title>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )

    found = client.locate(bike[0])

    assert {p.page_url for p in found} == COPY_PAGES - {COPIES[gone][0], COPIES[html][0]}
    failed = {c.page_url: c for c in found.rejected if c.stage != "verify"}
    assert set(failed) == {COPIES[gone][0], COPIES[html][0]}
    assert failed[COPIES[gone][0]].stage == "fetch"
    assert "404" in failed[COPIES[gone][0]].reason
    assert failed[COPIES[html][0]].stage == "fetch"
    assert "text/html" in failed[COPIES[html][0]].reason
    report = found.report
    assert (report.verified, report.failed, report.different, report.stored) == (3, 2, 3, 3)
    assert {f.stage for f in report.failures} == {"fetch"}
    assert client.store.count() == 3


def test_bytes_that_are_not_an_image_fail_at_decode(
    client: ImageSearchClient, claimed: Any, web: Web, bike: tuple[Image.Image, Image.Image]
) -> None:
    web.files["/memes/bike.jpg"] = b"\xff\xd8\xff\xe0 truncated, not a JPEG at all"
    found = client.locate(bike[0])
    [broken] = [c for c in found.rejected if c.stage == "decode"]
    assert broken.page_url == COPIES["/memes/bike.jpg"][0]
    assert len(found) == 4


def test_a_refused_upload_raises_and_a_public_url_still_works(
    client: ImageSearchClient,
    claimed: Any,
    serp: FakeSerpApi,
    bike: tuple[Image.Image, Image.Image],
    query_url: str,
) -> None:
    serp.lens.refuse_uploads()
    with pytest.raises(ImageUploadError, match="pass a public http"):
        client.locate(bike[0])
    assert serp.lens.searches == []
    assert client.store.count() == 0

    found = client.locate(query_url)
    assert len(found) == 5
    assert found.report.uploads == 0


def test_lens_finding_nothing_is_an_empty_answer_that_costs_one_search(
    client: ImageSearchClient, serp: FakeSerpApi, web: Web, bike: tuple[Image.Image, Image.Image]
) -> None:
    serp.lens.serve(exact=[], visual=[])
    found = client.locate(bike[0], similar=True)
    assert (len(found), found.alike, found.rejected) == (0, (), ())
    report = found.report
    assert (report.searches, report.uploads, report.candidates, report.downloads) == (2, 1, 0, 0)
    assert web.downloads() == 0
    assert client.store.count() == 0


def test_a_claim_naming_a_local_file_is_never_read(
    client: ImageSearchClient, serp: FakeSerpApi, bike: tuple[Image.Image, Image.Image]
) -> None:
    # A custom reverse source could name anything; a claim is only ever downloaded.
    from img2img import ImageCandidate, UploadedImage

    class Naughty:
        def upload(self, data: bytes) -> UploadedImage:
            return UploadedImage(upload_id="x")

        def lookup(self, image: object, *, kind: str = "exact", limit: int = 100) -> Any:
            yield ImageCandidate("file:///etc/passwd", page_url="https://evil.example/")

    found = with_reverse_source(client, Naughty()).locate(bike[0])  # type: ignore[arg-type]
    [claim] = found.rejected
    assert (claim.stage, claim.image_url) == ("fetch", "file:///etc/passwd")
    assert "http(s) only" in claim.reason
    assert client.store.count() == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exact": False}, "exact matches, similar ones, or both"),
        ({"limit": 0}, "limit"),
        ({"sites": "reddit.com"}, "list of sites"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    client: ImageSearchClient,
    serp: FakeSerpApi,
    bike: tuple[Image.Image, Image.Image],
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        client.locate(bike[0], **options)
    assert serp.requests == []
