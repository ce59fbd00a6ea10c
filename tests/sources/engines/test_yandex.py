"""YandexSource against FakeYandex: the Yandex Cloud Search API over loopback HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from img2img.errors import AuthenticationError, ConfigurationError, ServiceError
from img2img.sources.yandex.source import YandexSource
from img2img.testing.contracts import ReverseImageSourceContract
from img2img.testing.fake_yandex import FakeYandex, yandex_image
from img2img.testing.http import Reply

QUERY = "https://photos.example.org/eiffel.jpg"


@pytest.fixture
def yandex() -> Iterator[FakeYandex]:
    with FakeYandex() as fake:
        yield fake


class TestYandexContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, yandex: FakeYandex) -> YandexSource:
        return yandex.source()


def test_a_url_is_sent_as_url_with_the_folder_and_the_key_in_a_header(yandex: FakeYandex) -> None:
    claims = list(yandex.source(site="example.ru", family_mode="strict").lookup(QUERY))
    (request,) = yandex.requests
    body = request.json()
    assert (body["url"], body["folderId"], body["page"]) == (QUERY, "b1gfolder", "0")
    assert (body["site"], body["familyMode"]) == ("example.ru", "FAMILY_MODE_STRICT")
    assert request.headers["authorization"] == f"Api-Key {yandex.api_key}"
    first = claims[0]
    assert (first.image_url, first.page_url) == (
        "https://img1.example.ru/photo-1.jpg",
        "https://site1.example.ru/post/1",
    )
    assert (first.title, first.domain, first.width, first.height) == (
        "Page 1",
        "site1.example.ru",
        801,
        600,
    )
    assert first.extra["found_by"] == "yandex"


def test_pages_after_the_first_name_the_image_by_its_id(yandex: FakeYandex) -> None:
    source = yandex.source(pages=3)
    data = b"\xff\xd8not-really-a-jpeg-but-bytes"
    claims = list(source.lookup(source.upload(data)))
    assert len(claims) == 3  # three images served two a page: pages 0 and 1, then maxPage ends it
    first, second = (r.json() for r in yandex.requests)
    assert base64.b64decode(first["data"]) == data
    assert "id" not in first
    assert second["id"]
    assert "data" not in second
    assert second["page"] == "1"
    assert source.searches_for(100) == 3


def test_the_limit_stops_paging(yandex: FakeYandex) -> None:
    assert len(list(yandex.source(pages=5).lookup(QUERY, limit=2))) == 2
    assert len(yandex.requests) == 1


def test_an_iam_token_goes_as_bearer(monkeypatch: pytest.MonkeyPatch, yandex: FakeYandex) -> None:
    monkeypatch.delenv("YANDEX_SEARCH_API_KEY", raising=False)
    source = YandexSource(iam_token="t0ken", base_url=yandex.url, sleep=lambda s: None)
    with pytest.raises(AuthenticationError, match="refused") as caught:
        list(source.lookup(QUERY))
    assert "t0ken" not in str(caught.value)
    assert yandex.requests[0].headers["authorization"] == "Bearer t0ken"


def test_no_credentials_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("YANDEX_SEARCH_API_KEY", "YANDEX_IAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="YANDEX_SEARCH_API_KEY"):
        YandexSource().lookup(QUERY)


def test_hostile_entries_are_skipped(yandex: FakeYandex) -> None:
    yandex.per_page = 10
    yandex.serve(
        ["x", {"url": "javascript:alert(1)"}, yandex_image("https://ok.example/a.jpg", "ftp://x")]
    )
    (claim,) = yandex.source().lookup(QUERY)
    assert (claim.image_url, claim.page_url) == ("https://ok.example/a.jpg", None)


def test_an_empty_answer_and_a_malformed_one(yandex: FakeYandex) -> None:
    yandex.serve([])
    assert list(yandex.source().lookup(QUERY)) == []
    yandex.queue(Reply(status=200, body=b"{not json"))
    with pytest.raises(ServiceError, match="not JSON"):
        list(yandex.source().lookup(QUERY))


def test_a_similar_search_is_refused_before_anything_is_sent(yandex: FakeYandex) -> None:
    with pytest.raises(ConfigurationError, match="exact"):
        yandex.source().lookup(QUERY, kind="similar")
    assert yandex.requests == []
