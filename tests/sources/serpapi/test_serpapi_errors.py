"""SerpApiSource's failures against FakeSerpApi: keys, retries, error bodies, network."""

from __future__ import annotations

import pytest
from serpapi_helpers import loaded_after_importing, source_for

from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    Img2ImgError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
)
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi.google_images import API_KEY_ENV, SerpApiSource
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import Reply

# -- the key ------------------------------------------------------------------


def test_missing_key_raises_configuration_error_on_discover(
    serp: FakeSerpApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    source = SerpApiSource(base_url=serp.url)  # constructing needs no key
    with pytest.raises(ConfigurationError, match=API_KEY_ENV):
        source.discover("tower")  # raises at the call, before any iteration
    assert serp.requests == []


def test_key_comes_from_the_environment(serp: FakeSerpApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, serp.api_key)
    assert len(list(SerpApiSource(base_url=serp.url).discover("tower", limit=3))) == 3
    assert serp.requests[0].param("api_key") == serp.api_key


def test_repr_hides_the_key() -> None:
    assert "s3cret-key" not in repr(SerpApiSource(api_key="s3cret-key"))


def test_importing_the_adapter_loads_no_vendor_client() -> None:
    loaded = loaded_after_importing(
        "img2img.sources.serpapi.google_images",
        "img2img.testing.fake_serpapi",
        watched=("serpapi", "requests"),
    )
    assert loaded == []


# -- errors -------------------------------------------------------------------


def test_bad_key_raises_a_clear_authentication_error(serp: FakeSerpApi) -> None:
    source = source_for(serp, api_key="wrong-key-123")
    with pytest.raises(AuthenticationError, match=API_KEY_ENV) as caught:
        list(source.discover("tower"))
    assert caught.value.status_code == 401
    assert "Invalid API key" in str(caught.value)
    assert "wrong-key-123" not in str(caught.value)
    assert len(serp.requests) == 1  # a wrong key is not retried


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (FakeSerpApi.error(429, FakeSerpApi.THROUGHPUT_LIMIT), RateLimitError),
        (FakeSerpApi.error(500, "Internal server error"), ServiceUnavailableError),
        (FakeSerpApi.error(503, "Service unavailable"), ServiceUnavailableError),
        (Reply(status=502, body=b"<html>Bad gateway</html>"), ServiceUnavailableError),
    ],
)
def test_transient_failures_are_retried_then_raise(
    serp: FakeSerpApi, sleeps: list[float], fault: Reply, error: type[ServiceError]
) -> None:
    policy = RetryPolicy(attempts=3, base_delay=1.0, jitter=0.0)
    serp.queue(fault, fault)
    assert len(list(source_for(serp, sleeps, retry=policy).discover("tower", limit=5))) == 5
    assert sleeps == [1.0, 2.0]  # exponential backoff, then success

    serp.reset()
    sleeps.clear()
    serp.queue(fault, fault, fault)
    with pytest.raises(error) as caught:
        list(source_for(serp, sleeps, retry=policy).discover("tower", limit=5))
    assert caught.value.status_code == fault.status
    assert len(serp.requests) == 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured(serp: FakeSerpApi, sleeps: list[float]) -> None:
    serp.queue(FakeSerpApi.error(429, FakeSerpApi.THROUGHPUT_LIMIT, retry_after="7"))
    policy = RetryPolicy(attempts=2, base_delay=0.1)
    assert len(list(source_for(serp, sleeps, retry=policy).discover("tower", limit=5))) == 5
    assert sleeps == [7.0]


def test_default_retries_back_off_within_bounds(serp: FakeSerpApi, sleeps: list[float]) -> None:
    serp.queue(*[FakeSerpApi.error(500, "boom")] * 4)
    with pytest.raises(ServiceUnavailableError):
        list(source_for(serp, sleeps).discover("tower"))
    assert len(serp.requests) == 4
    assert len(sleeps) == 3
    for retry, wait in enumerate(sleeps):  # 1 s doubling, less up to half as jitter
        assert 0.5 * 2**retry <= wait <= 2**retry


def test_an_exhausted_account_is_not_retried(serp: FakeSerpApi, sleeps: list[float]) -> None:
    serp.queue(FakeSerpApi.error(429, FakeSerpApi.OUT_OF_SEARCHES))
    with pytest.raises(RateLimitError, match="run out of searches"):
        list(source_for(serp, sleeps).discover("tower"))
    assert (len(serp.requests), sleeps) == (1, [])


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (FakeSerpApi.error(400, "Unsupported `gl` parameter."), "Unsupported `gl`"),
        (FakeSerpApi.error(200, "Something else went wrong."), "Something else"),
        (Reply(status=200, body=b"<html>not json</html>"), "not a JSON object"),
    ],
)
def test_other_errors_raise_service_error_without_retry(
    serp: FakeSerpApi, sleeps: list[float], fault: Reply, message: str
) -> None:
    serp.queue(fault)
    with pytest.raises(ServiceError, match=message) as caught:
        list(source_for(serp, sleeps).discover("tower"))
    assert type(caught.value) is ServiceError
    assert (len(serp.requests), sleeps) == (1, [])


def test_an_unreachable_service_raises_without_leaking_the_key(sleeps: list[float]) -> None:
    with FakeSerpApi() as gone:
        url = gone.url
    source = SerpApiSource(
        api_key="secret-key-42", base_url=url, sleep=sleeps.append, retry=RetryPolicy(attempts=2)
    )
    with pytest.raises(ServiceUnavailableError, match="cannot reach SerpAPI") as caught:
        list(source.discover("tower"))
    assert len(sleeps) == 1
    chain: BaseException | None = caught.value
    while chain is not None:  # tracebacks print the whole chain
        assert "secret-key-42" not in str(chain)
        chain = chain.__cause__ or chain.__context__
    assert caught.value.__cause__ is not None


def test_errors_are_img2img_errors(serp: FakeSerpApi) -> None:
    serp.queue(FakeSerpApi.error(401, FakeSerpApi.INVALID_KEY))
    with pytest.raises(Img2ImgError):
        list(source_for(serp).discover("tower"))
