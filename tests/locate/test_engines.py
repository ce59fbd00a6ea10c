"""Several engines asked at once: in parallel, within a budget, one failure never ending the rest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from img2img.errors import ConfigurationError
from img2img.locate.engines import Budget, ask_engines, engine_name
from img2img.locate.merge import merge_claims
from img2img.models import ImageCandidate, MatchKind, UploadedImage
from img2img.testing.clock import ManualClock
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_saucenao import FakeSauceNao
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.fake_yandex import FakeYandex, yandex_image
from img2img.testing.photos import sample_photos
from img2img.testing.service import Stall

QUERY = "https://photos.example.org/eiffel.jpg"
SHARED = "https://cdn.example.org/the-picture.jpg"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTinEye, FakeYandex, FakeSerpApi]]:
    with FakeTinEye() as tineye, FakeYandex() as yandex, FakeSerpApi() as serp:
        yield tineye, yandex, serp


@dataclass
class Recorded:
    """An engine that answers a fixed claim, recording when it was asked."""

    name: str
    claims: list[ImageCandidate] = field(default_factory=list)
    delay: float = 0.0
    asked: list[float] = field(default_factory=list)

    def lookup(
        self, image: str | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]:
        self.asked.append(time.monotonic())
        time.sleep(self.delay)
        return iter(self.claims[:limit])

    def upload(self, data: bytes) -> UploadedImage:
        return UploadedImage(upload_id="x")


def test_engines_are_asked_in_parallel_and_answer_in_the_given_order() -> None:
    slow = [
        Recorded(f"e{i}", [ImageCandidate(f"https://x.example/{i}.jpg")], delay=0.5)
        for i in range(3)
    ]
    started = time.monotonic()
    answers = ask_engines(QUERY, slow)
    assert time.monotonic() - started < 1.2  # three half-second engines, at once
    assert [a.engine for a in answers] == ["e0", "e1", "e2"]
    assert all(a.ok and a.searches == 1 for a in answers)


def test_a_failing_engine_is_reported_and_the_others_answer(
    fakes: tuple[FakeTinEye, FakeYandex, FakeSerpApi],
) -> None:
    tineye, yandex, serp = fakes
    tineye.remaining = 0
    answers = ask_engines(QUERY, [tineye.source(), yandex.source(), serp.lens_source()])
    by_name = {a.engine: a for a in answers}
    assert (
        by_name["tineye"].skipped == "quota spent (0 searches left)"
    )  # told by its free quota call
    assert by_name["yandex"].ok
    assert by_name["lens"].ok
    assert by_name["lens"].lookup is not None
    assert by_name["lens"].lookup.exact


def test_an_engine_failing_mid_search_keeps_its_error(
    fakes: tuple[FakeTinEye, FakeYandex, FakeSerpApi],
) -> None:
    tineye, yandex, _ = fakes
    yandex.queue(FakeSerpApi.error(401, "bad key"))
    answers = ask_engines(QUERY, [tineye.source(), yandex.source()])
    assert answers[0].ok
    assert answers[1].error_type == "AuthenticationError"
    assert "refused" in str(answers[1].error)


def test_a_slow_engine_does_not_hold_up_the_others(
    fakes: tuple[FakeTinEye, FakeYandex, FakeSerpApi],
) -> None:
    from img2img.net.retry import RetryPolicy

    tineye, yandex, _ = fakes
    yandex.queue(Stall(2.0))
    started = time.monotonic()
    answers = ask_engines(
        QUERY, [tineye.source(), yandex.source(timeout=0.3, retry=RetryPolicy(attempts=1))]
    )
    assert time.monotonic() - started < 1.8
    assert answers[0].ok
    assert answers[1].error_type == "ServiceUnavailableError"


def test_the_budget_is_never_exceeded(fakes: tuple[FakeTinEye, FakeYandex, FakeSerpApi]) -> None:
    tineye, yandex, serp = fakes
    budget = Budget(max_searches=2)
    answers = ask_engines(
        QUERY,
        [serp.lens_source(no_cache=True), tineye.source(), yandex.source(pages=2)],
        kinds=("exact",),
        budget=budget,
    )
    assert [a.searches for a in answers] == [1, 1, 0]
    assert answers[2].skipped == "budget: 2 searches needed, 0 left"
    assert budget.spent == 2
    sent = len([r for r in serp.requests if r.param("engine") == "google_lens"])
    assert sent + len(tineye.searches) + len(yandex.requests) == 2


def test_a_repeat_within_serpapis_cache_hour_is_free() -> None:
    clock = ManualClock()
    with FakeSerpApi() as serp:
        budget = Budget(max_searches=1, clock=clock.now)
        (first,) = ask_engines(QUERY, [serp.lens_source()], budget=budget)
        (again,) = ask_engines(QUERY, [serp.lens_source()], budget=budget)
        assert (first.searches, again.searches, again.ok) == (1, 0, True)
        clock.sleep(3601)
        (late,) = ask_engines(QUERY, [serp.lens_source()], budget=budget)
        assert late.skipped is not None  # an hour on, the search is paid again, and none is left


def test_an_engine_without_the_kind_asked_is_skipped(
    fakes: tuple[FakeTinEye, FakeYandex, FakeSerpApi],
) -> None:
    tineye, _, _ = fakes
    (answer,) = ask_engines(QUERY, [tineye.source()], kinds=("similar",))
    assert answer.skipped == "offers exact searches only"
    assert tineye.requests == []


def test_the_same_image_from_three_engines_is_one_claim_with_every_engine_and_the_earliest_day(
    fakes: tuple[FakeTinEye, FakeYandex, FakeSerpApi],
) -> None:
    tineye, yandex, _serp = fakes
    tineye.serve([tineye_match(SHARED, "https://blog.example/post", crawl_date="2012-05-01")])
    yandex.serve([yandex_image(SHARED, "https://other.example/page")])
    with FakeSauceNao(short_limit=50) as sauce:
        from img2img.testing.fake_saucenao import sauce_result

        sauce.serve([sauce_result(SHARED, ["https://art.example/work"])])
        answers = ask_engines(QUERY, [tineye.source(), yandex.source(), sauce.source()])
    claims = merge_claims(answers, "ab" * 32)
    assert len(claims) == 1
    ((candidate, kind),) = claims.values()
    assert kind == "exact"
    assert candidate.extra["engines"] == ["tineye", "yandex", "saucenao"]
    assert candidate.extra["first_seen"] == 1335830400  # 2012-05-01, from TinEye
    assert candidate.page_url == "https://blog.example/post"  # the first engine's provenance


def test_two_engines_of_one_name_and_none_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="once"):
        ask_engines(QUERY, [Recorded("a"), Recorded("a")])
    with pytest.raises(ConfigurationError, match="at least one"):
        ask_engines(QUERY, [])


def test_a_bad_budget_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_searches"):
        Budget(max_searches=-1)


def test_the_engines_asked_by_default_are_those_whose_key_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from img2img.locate.choice import configured_engines

    for name in (
        "SERPAPI_API_KEY",
        "TINEYE_API_KEY",
        "YANDEX_SEARCH_API_KEY",
        "YANDEX_IAM_TOKEN",
        "SAUCENAO_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert configured_engines() == []
    monkeypatch.setenv("TINEYE_API_KEY", "t")
    monkeypatch.setenv("YANDEX_IAM_TOKEN", "y")
    assert sorted(engine_name(e) for e in configured_engines()) == ["tineye", "yandex"]
    monkeypatch.setenv("SERPAPI_API_KEY", "s")
    # Google's older reverse search is asked by name only: Lens already asks Google.
    assert sorted(engine_name(e) for e in configured_engines()) == [
        "bing",
        "lens",
        "tineye",
        "yandex",
    ]


def test_an_engine_that_cannot_see_a_local_picture_is_skipped_unpaid() -> None:
    with FakeSerpApi() as serp:
        budget = Budget()
        photo = jpeg_bytes(sample_photos(("astronaut",))["astronaut"])
        lens, bing = ask_engines(photo, [serp.lens_source(), serp.bing_source()], budget=budget)
        assert lens.ok
        assert bing.skipped == "needs a public URL of the picture (or an uploader)"
        assert budget.spent == 1
        assert [r.param("engine") for r in serp.requests if r.param("engine")] == ["google_lens"]
