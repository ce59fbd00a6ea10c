"""The generic retry helper: backoff, Retry-After, deadline, error chaining."""

from __future__ import annotations

import email.utils

import pytest

from img2img.errors import ConfigurationError, RateLimitError, ServiceUnavailableError
from img2img.net.retry import Retryable, RetryPolicy, call_with_retries, parse_retry_after


class Flaky:
    """Fails ``failures`` times with a Retryable, then returns ``"ok"``."""

    def __init__(self, failures: int, retry_after: float | None = None) -> None:
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            try:
                raise ConnectionError(f"boom {self.calls}")
            except ConnectionError as exc:
                raise Retryable(
                    ServiceUnavailableError(f"down {self.calls}"), retry_after=self.retry_after
                ) from exc
        return "ok"


def test_succeeds_after_retries_and_waits_grow_exponentially() -> None:
    sleeps: list[float] = []
    flaky = Flaky(failures=3)
    policy = RetryPolicy(attempts=4, base_delay=1.0, multiplier=3.0, jitter=0.0)
    assert call_with_retries(flaky, policy, sleep=sleeps.append) == "ok"
    assert flaky.calls == 4
    assert sleeps == [1.0, 3.0, 9.0]


def test_gives_up_with_the_last_error_chained_to_its_cause() -> None:
    sleeps: list[float] = []
    flaky = Flaky(failures=10)
    with pytest.raises(ServiceUnavailableError, match="down 3") as info:
        call_with_retries(flaky, RetryPolicy(attempts=3, jitter=0.0), sleep=sleeps.append)
    assert flaky.calls == 3
    assert len(sleeps) == 2
    assert isinstance(info.value.__cause__, ConnectionError)
    assert str(info.value.__cause__) == "boom 3"


def test_other_exceptions_are_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("not retryable")

    with pytest.raises(KeyError):
        call_with_retries(broken, RetryPolicy(attempts=5), sleep=lambda _: None)
    assert len(calls) == 1


def test_delays_are_capped_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, multiplier=10.0, max_delay=5.0, jitter=0.5)
    assert policy.delay(1, rand=lambda: 0.0) == 1.0
    assert policy.delay(1, rand=lambda: 1.0) == 0.5
    assert policy.delay(4, rand=lambda: 0.0) == 5.0
    assert policy.delay(4, rand=lambda: 0.999) == pytest.approx(2.5025)
    assert policy.delay(10) is None


def test_retry_after_is_honoured_and_too_long_a_wait_gives_up() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.1, max_delay=10.0, jitter=0.0)
    assert policy.delay(1, retry_after=4.0) == 4.0
    assert policy.delay(1, retry_after=0.0) == 0.1  # never sooner than the backoff
    assert policy.delay(1, retry_after=60.0) is None

    sleeps: list[float] = []
    assert call_with_retries(Flaky(1, retry_after=2.5), policy, sleep=sleeps.append) == "ok"
    assert sleeps == [2.5]
    with pytest.raises(ServiceUnavailableError):
        call_with_retries(Flaky(1, retry_after=3600), policy, sleep=sleeps.append)
    assert sleeps == [2.5]


def test_no_retry_starts_whose_wait_would_pass_the_deadline() -> None:
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    flaky = Flaky(failures=10)
    policy = RetryPolicy(attempts=10, base_delay=1.0, multiplier=2.0, jitter=0.0)
    with pytest.raises(ServiceUnavailableError):
        call_with_retries(flaky, policy, deadline=108.0, sleep=sleep, clock=lambda: now[0])
    # waits of 1, 2 and 4 seconds fit before 108; the next (8) would not.
    assert flaky.calls == 4
    assert now[0] == 107.0


def test_parse_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    unmarked = email.utils.formatdate(now + 10).replace("+0000", "-0000")
    assert parse_retry_after(unmarked, now=now) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"base_delay": -1}, {"multiplier": 0.5}, {"jitter": 1.5}],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_rate_limit_error_keeps_its_status() -> None:
    def throttled() -> None:
        raise Retryable(RateLimitError("slow down", status_code=429))

    with pytest.raises(RateLimitError) as info:
        call_with_retries(throttled, RetryPolicy(attempts=2, base_delay=0), sleep=lambda _: None)
    assert info.value.status_code == 429
