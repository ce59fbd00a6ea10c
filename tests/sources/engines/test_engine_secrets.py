"""Engine keys never show: not in reprs, errors, or what httpx and urllib3 log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from img2img.errors import Img2ImgError
from img2img.protocols import ReverseImageSource
from img2img.testing.fake_saucenao import FakeSauceNao
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.fake_tineye import FakeTinEye
from img2img.testing.fake_yandex import FakeYandex

SECRET = "sk-live-0123456789-do-not-print"
QUERY = "https://photos.example.org/eiffel.jpg"

Make = Callable[[ExitStack], ReverseImageSource]


def _tineye(stack: ExitStack) -> ReverseImageSource:
    return stack.enter_context(FakeTinEye()).source(api_key=SECRET)


def _yandex(stack: ExitStack) -> ReverseImageSource:
    return stack.enter_context(FakeYandex()).source(api_key=SECRET)


def _saucenao(stack: ExitStack) -> ReverseImageSource:
    return stack.enter_context(FakeSauceNao()).source(api_key=SECRET)


def _bing(stack: ExitStack) -> ReverseImageSource:
    return stack.enter_context(FakeSerpApi()).bing_source(api_key=SECRET)


def _google_reverse(stack: ExitStack) -> ReverseImageSource:
    return stack.enter_context(FakeSerpApi()).google_reverse_source(api_key=SECRET)


@pytest.fixture(params=[_tineye, _yandex, _saucenao, _bing, _google_reverse])
def engine(request: pytest.FixtureRequest) -> Iterator[ReverseImageSource]:
    with ExitStack() as stack:
        yield request.param(stack)


def test_a_refused_key_stays_out_of_the_error_the_repr_and_the_logs(
    engine: ReverseImageSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Img2ImgError) as caught:
        list(engine.lookup(QUERY))
    shown = [str(caught.value), repr(caught.value), repr(engine), caplog.text]
    cause = caught.value.__cause__
    while cause is not None:
        shown.append(str(cause))
        cause = cause.__cause__
    assert all(SECRET not in text for text in shown)
