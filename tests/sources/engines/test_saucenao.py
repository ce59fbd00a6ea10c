"""SauceNaoSource against FakeSauceNao: SauceNAO's JSON API and its quotas over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    QuotaExhaustedError,
    ServiceError,
)
from img2img.sources.saucenao.source import SauceNaoSource
from img2img.testing.clock import ManualClock
from img2img.testing.contracts import ReverseImageSourceContract
from img2img.testing.fake_saucenao import FakeSauceNao, sauce_result
from img2img.testing.http import Reply, form_fields

QUERY = "https://art.example/piece.png"


@pytest.fixture
def sauce() -> Iterator[FakeSauceNao]:
    with FakeSauceNao(short_limit=100) as fake:
        yield fake


class TestSauceNaoContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, sauce: FakeSauceNao) -> SauceNaoSource:
        return sauce.source()


def test_each_result_is_a_claim_on_its_first_page_with_the_others_kept(sauce: FakeSauceNao) -> None:
    pixiv, booru = sauce.source().lookup(QUERY)
    assert (
        pixiv.page_url == "https://www.pixiv.net/member_illust.php?mode=medium&illust_id=12345678"
    )
    assert pixiv.image_url.startswith("https://img1.saucenao.com/")
    assert pixiv.extra["saucenao_similarity"] == pytest.approx(94.12)
    assert pixiv.extra["saucenao_index"] == "Pixiv Images"
    assert pixiv.extra["artist"] == "an artist"
    assert booru.extra["other_pages"] == ["https://gelbooru.com/index.php?page=post&s=view&id=2000"]
    assert booru.extra["work_source"] == "https://twitter.com/an_artist/status/1"


def test_the_key_and_options_travel_in_the_body_never_the_url(sauce: FakeSauceNao) -> None:
    list(sauce.source(numres=5, dbmask=8191, minsim=60).lookup(QUERY))
    (request,) = sauce.requests
    assert sauce.api_key not in request.path + str(request.query)
    body = request.body.decode()
    assert f"api_key={sauce.api_key}" in body
    assert "output_type=2" in body
    assert "numres=5" in body
    assert "dbmask=8191" in body
    assert "minsim=60" in body


def test_a_local_image_is_sent_as_a_file(sauce: FakeSauceNao) -> None:
    source = sauce.source()
    data = b"\x89PNG\r\n\x1a\nfake"
    list(source.lookup(source.upload(data)))
    assert form_fields(sauce.requests[0])["file"] == data
    assert sauce.searches == [("file", data)]


def test_the_thirty_second_window_is_waited_for() -> None:
    clock = ManualClock()
    waits: list[float] = []
    with FakeSauceNao(short_limit=2, clock=clock.now) as sauce:

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.sleep(seconds)

        source = sauce.source(clock=clock.now, sleep=sleep)
        list(source.lookup(QUERY))
        list(source.lookup(QUERY))  # the window is now spent: the reply said short_remaining 0
        assert waits == []
        list(source.lookup(QUERY))
        assert waits
        assert waits[0] == pytest.approx(30.0)
        assert len(sauce.searches) == 3


def test_a_spent_day_is_reported_and_then_not_asked_again() -> None:
    with FakeSauceNao(short_limit=100, long_limit=2) as sauce:
        source = sauce.source()
        list(source.lookup(QUERY))
        assert source.quota().remaining == 1
        list(source.lookup(QUERY))
        assert source.quota().remaining == 0
        sent = len(sauce.requests)
        with pytest.raises(QuotaExhaustedError, match="today"):
            list(source.lookup(QUERY))
        assert len(sauce.requests) == sent  # nothing sent once the day is known to be spent


def test_a_day_spent_elsewhere_is_told_by_the_429() -> None:
    with FakeSauceNao(short_limit=100, long_limit=0) as sauce:
        with pytest.raises(QuotaExhaustedError):
            list(sauce.source().lookup(QUERY))
        assert len(sauce.requests) == 1  # no retry: waiting a day is no retry


def test_a_wrong_key_never_shows_the_key(sauce: FakeSauceNao) -> None:
    with pytest.raises(AuthenticationError, match="SAUCENAO_API_KEY") as caught:
        list(sauce.source(api_key="my-secret-key").lookup(QUERY))
    assert "my-secret-key" not in str(caught.value)


def test_a_failed_search_and_a_malformed_reply(sauce: FakeSauceNao) -> None:
    sauce.queue(Reply.json({"header": {"status": 1, "message": "index offline"}}))
    with pytest.raises(ServiceError, match="index offline"):
        list(sauce.source().lookup(QUERY))
    sauce.queue(Reply(status=200, body=b"<html>"))
    with pytest.raises(ServiceError, match="not its JSON"):
        list(sauce.source().lookup(QUERY))


def test_hostile_results_are_skipped(sauce: FakeSauceNao) -> None:
    sauce.serve(
        [
            "x",
            {"header": "nope"},
            sauce_result("data:image/png;base64,AAAA", ["https://x/"]),
            sauce_result(
                "https://img.example/t.jpg", ["javascript:alert(1)", "https://ok.example/w"]
            ),
        ]
    )
    (claim,) = sauce.source().lookup(QUERY)
    assert (claim.image_url, claim.page_url) == (
        "https://img.example/t.jpg",
        "https://ok.example/w",
    )


@pytest.mark.parametrize("bad", [{"numres": 0}, {"minsim": 101}, {"db": -1}])
def test_bad_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SauceNaoSource(**bad)  # type: ignore[arg-type]
