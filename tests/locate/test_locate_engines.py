"""One locate asking five engines at once against their fakes: Lens, TinEye, Yandex, SauceNAO, Bing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from locate_helpers import Web, lens_entry
from PIL import Image

from img2img import ImageSearchClient
from img2img.errors import AuthenticationError
from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.fake_saucenao import FakeSauceNao, sauce_result
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.fake_yandex import FakeYandex, yandex_image


@pytest.fixture
def engines() -> Iterator[tuple[FakeTinEye, FakeYandex, FakeSauceNao]]:
    with (
        FakeTinEye() as tineye,
        FakeYandex(per_page=10) as yandex,
        FakeSauceNao(short_limit=50) as sauce,
    ):
        yield tineye, yandex, sauce


@pytest.fixture
def shared(web: Web, bike: tuple[Image.Image, Image.Image]) -> str:
    """A repost of the query that three engines will claim."""
    web.files["/reposts/bike.jpg"] = jpeg_bytes(apply_edit(bike[0], "jpeg70"))
    return web.url("/reposts/bike.jpg")


def _claim_everywhere(
    web: Web,
    bike: tuple[Image.Image, Image.Image],
    serp: FakeSerpApi,
    engines: tuple[FakeTinEye, FakeYandex, FakeSauceNao],
    shared: str,
) -> None:
    tineye, yandex, sauce = engines
    web.files["/query.jpg"] = jpeg_bytes(bike[0])
    web.files["/lens-only.jpg"] = jpeg_bytes(apply_edit(bike[0], "resize"))
    web.files["/other.jpg"] = jpeg_bytes(apply_edit(bike[1], "jpeg70"))
    serp.lens.serve(
        exact=[lens_entry(1, "https://lens.example/p", web.url("/lens-only.jpg"))], visual=[]
    )
    tineye.serve([tineye_match(shared, "https://blog.example/2011/bike", crawl_date="2011-06-01")])
    yandex.serve(
        [
            yandex_image(shared, "https://vk.example/wall/1"),
            yandex_image(web.url("/other.jpg"), "https://x.example/"),
        ]
    )
    sauce.serve([sauce_result(shared, ["https://art.example/works/9"])])
    serp.reverse.serve("bing_reverse_image", {"pages_including": []})


def test_five_engines_one_locate_one_download_per_image(
    client: ImageSearchClient,
    web: Web,
    bike: tuple[Image.Image, Image.Image],
    serp: FakeSerpApi,
    engines: tuple[FakeTinEye, FakeYandex, FakeSauceNao],
    shared: str,
) -> None:
    tineye, yandex, sauce = engines
    _claim_everywhere(web, bike, serp, engines, shared)
    asked = [
        serp.lens_source(),
        tineye.source(),
        yandex.source(),
        sauce.source(),
        serp.bing_source(),
    ]
    found = client.locate(web.url("/query.jpg"), engines=asked)

    report = found.report
    assert [e.engine for e in report.engines] == [
        "google_lens",
        "tineye",
        "yandex",
        "saucenao",
        "bing",
    ]
    assert all(e.ok for e in report.engines)
    assert report.searches == 5
    # The repost three engines claimed: downloaded once, stored once, all three named, 2011 kept.
    gets = [r.path for r in web.server.requests if r.method == "GET"]
    assert gets.count("/reposts/bike.jpg") == 1
    by_url = {p.image_url: p for p in found}
    repost = by_url[shared]
    assert repost.engines == ("tineye", "yandex", "saucenao")
    assert repost.first_seen == 1306886400  # 2011-06-01
    stored = client.store.fetch([repost.id])[repost.id]
    assert stored.metadata["engines"] == ["tineye", "yandex", "saucenao"]
    assert web.url("/lens-only.jpg") in by_url
    assert web.url("/other.jpg") not in by_url  # the other photo of the pair: claimed, refused
    assert next(p.image_url for p in found.sorted_by("oldest")) == shared
    yandex_report = next(e for e in report.engines if e.engine == "yandex")
    assert (yandex_report.claims, yandex_report.verified, yandex_report.rejected) == (2, 1, 1)


def test_a_failing_engine_leaves_the_others_postings_intact(
    client: ImageSearchClient,
    web: Web,
    bike: tuple[Image.Image, Image.Image],
    serp: FakeSerpApi,
    engines: tuple[FakeTinEye, FakeYandex, FakeSauceNao],
    shared: str,
) -> None:
    tineye, yandex, sauce = engines
    _claim_everywhere(web, bike, serp, engines, shared)
    tineye.remaining = 0
    found = client.locate(
        web.url("/query.jpg"),
        engines=[tineye.source(), yandex.source(api_key="wrong"), sauce.source()],
    )
    status = {e.engine: e.status for e in found.report.engines}
    assert status["tineye"].startswith("skipped: quota spent")
    assert status["yandex"].startswith("failed: Yandex Search API refused")
    assert status["saucenao"] == "ok"
    assert [p.image_url for p in found] == [shared]
    assert found[0].engines == ("saucenao",)


def test_the_budget_of_searches_is_never_exceeded(
    client: ImageSearchClient,
    web: Web,
    bike: tuple[Image.Image, Image.Image],
    serp: FakeSerpApi,
    engines: tuple[FakeTinEye, FakeYandex, FakeSauceNao],
    shared: str,
) -> None:
    tineye, yandex, sauce = engines
    _claim_everywhere(web, bike, serp, engines, shared)
    found = client.locate(
        web.url("/query.jpg"),
        engines=[tineye.source(), yandex.source(), sauce.source(), serp.bing_source(no_cache=True)],
        max_searches=2,
    )
    assert found.report.searches == 2
    sent = (
        len(tineye.searches)
        + len(yandex.requests)
        + len(sauce.searches)
        + len(serp.reverse.searches)
    )
    assert sent == 2
    skipped = [e.engine for e in found.report.engines if e.skipped]
    assert skipped == ["saucenao", "bing"]


def test_when_every_engine_fails_the_first_failure_is_raised(
    client: ImageSearchClient,
    web: Web,
    bike: tuple[Image.Image, Image.Image],
    engines: tuple[FakeTinEye, FakeYandex, FakeSauceNao],
) -> None:
    tineye, yandex, _ = engines
    web.files["/query.jpg"] = jpeg_bytes(bike[0])
    with pytest.raises(AuthenticationError, match="TinEye"):
        client.locate(
            web.url("/query.jpg"),
            engines=[tineye.source(api_key="bad"), yandex.source(api_key="bad")],
        )
