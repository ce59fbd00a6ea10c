"""Every engine against its fake's faults: an empty answer, a malformed reply, a slow one, a spent quota."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from img2img.errors import RateLimitError, ServiceError, ServiceUnavailableError
from img2img.net.retry import RetryPolicy
from img2img.protocols import ReverseImageSource
from img2img.testing.fake_saucenao import FakeSauceNao
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.fake_tineye import FakeTinEye
from img2img.testing.fake_yandex import FakeYandex
from img2img.testing.http import Reply
from img2img.testing.service import FakeService, Stall

QUERY = "https://photos.example.org/eiffel.jpg"
ONE_TRY = RetryPolicy(attempts=1)


@dataclass
class Engine:
    """A source on its fake, and how to make the fake answer nothing or run out of searches."""

    fake: FakeService
    make: Callable[..., ReverseImageSource]
    empty: Callable[[], None]
    spend: Callable[[], None]


def _tineye(stack: ExitStack) -> Engine:
    fake = stack.enter_context(FakeTinEye())
    return Engine(fake, fake.source, lambda: fake.serve([]), lambda: setattr(fake, "remaining", 0))


def _yandex(stack: ExitStack) -> Engine:
    fake = stack.enter_context(FakeYandex())
    quota = Reply.json({"code": 8, "message": "Quota exceeded", "details": []}, status=429)
    return Engine(fake, fake.source, lambda: fake.serve([]), lambda: fake.queue(quota))


def _saucenao(stack: ExitStack) -> Engine:
    fake = stack.enter_context(FakeSauceNao(short_limit=100, long_limit=100))
    return Engine(fake, fake.source, lambda: fake.serve([]), lambda: setattr(fake, "long_limit", 0))


def _serp(engine: str) -> Callable[[ExitStack], Engine]:
    def make(stack: ExitStack) -> Engine:
        fake = stack.enter_context(FakeSerpApi())
        source = fake.bing_source if engine == "bing_reverse_image" else fake.google_reverse_source
        spent = FakeSerpApi.error(429, FakeSerpApi.OUT_OF_SEARCHES)
        return Engine(
            fake, source, lambda: fake.reverse.serve(engine, {}), lambda: fake.queue(spent)
        )

    return make


@pytest.fixture(
    params=[
        _tineye,
        _yandex,
        _saucenao,
        _serp("bing_reverse_image"),
        _serp("google_reverse_image"),
    ],
    ids=["tineye", "yandex", "saucenao", "bing", "google_reverse"],
)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    with ExitStack() as stack:
        yield request.param(stack)


def _lookup(source: ReverseImageSource) -> list[Any]:
    return list(source.lookup(QUERY))


def test_an_empty_answer_is_no_claim_and_no_error(engine: Engine) -> None:
    engine.empty()
    assert _lookup(engine.make()) == []


def test_a_malformed_reply_is_a_service_error(engine: Engine) -> None:
    engine.fake.queue(Reply(status=200, body=b"<html>not json</html>"))
    with pytest.raises(ServiceError):
        _lookup(engine.make(retry=ONE_TRY))


def test_a_slow_reply_gives_up_in_time(engine: Engine) -> None:
    engine.fake.queue(Stall(2.0))
    with pytest.raises(ServiceUnavailableError, match=r"in time|within 0\.3 s"):
        _lookup(engine.make(timeout=0.3, retry=ONE_TRY))


def test_a_spent_quota_is_a_rate_limit_error(engine: Engine) -> None:
    engine.spend()
    with pytest.raises(RateLimitError):
        _lookup(engine.make(retry=ONE_TRY))
