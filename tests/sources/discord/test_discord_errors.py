"""DiscordSource's failures: tokens, rate limits, deleted and forbidden channels."""

from __future__ import annotations

import pytest
from discord_helpers import recorded

from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
)
from img2img.net.retry import RetryPolicy
from img2img.sources.discord.api import TOKEN_ENV
from img2img.sources.discord.source import DiscordSource
from img2img.testing.clock import ManualClock
from img2img.testing.fake_discord import FakeDiscord
from img2img.testing.http import Reply

SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.s3cr3t-t0ken-never-to-be-seen"

# -- the token ------------------------------------------------------------------


def test_missing_token_is_a_configuration_error_naming_the_variable(
    discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    source = DiscordSource(["1100"], base_url=discord.api_url)  # constructing needs no token
    with pytest.raises(ConfigurationError, match=TOKEN_ENV):
        source.discover("")  # raised at the call, before any request
    assert discord.requests == []


def test_token_comes_from_the_environment(
    discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 3)
    monkeypatch.setenv(TOKEN_ENV, f"Bot {discord.token}")  # the header's prefix is tolerated
    assert len(list(DiscordSource(["1100"], base_url=discord.api_url).discover(""))) == 3
    assert discord.requests[0].headers["authorization"] == f"Bot {discord.token}"
    assert discord.requests[0].headers["user-agent"].startswith("DiscordBot (")


def test_a_refused_token_is_an_authentication_error_naming_the_variable(
    discord: FakeDiscord,
) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 3)
    with pytest.raises(AuthenticationError, match=TOKEN_ENV) as caught:
        list(discord.source(channels=["1100"], token=SECRET).discover(""))
    assert caught.value.status_code == 401
    assert len(discord.requests) == 1  # not retried: another try cannot fix a token


def test_the_token_is_never_shown(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 3)
    source = discord.source(channels=["1100"], token=SECRET)
    assert SECRET not in repr(source)
    with pytest.raises(AuthenticationError) as caught:
        list(source.discover(""))
    chain: BaseException | None = caught.value
    while chain is not None:
        assert SECRET not in str(chain)
        chain = chain.__cause__ or chain.__context__
    good = discord.source(channels=["1100"])
    for candidate in good.discover(""):
        assert all(discord.token not in str(v) for v in candidate.extra.values())
    assert discord.token not in repr(good)


# -- rate limits ----------------------------------------------------------------


def test_a_429_is_waited_out_as_retry_after_says(discord: FakeDiscord, clock: ManualClock) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 150)
    discord.queue(FakeDiscord.rate_limited(1.5))  # the channel request is throttled once
    found = list(discord.source(channels=["1100"], sleep=clock.sleep).discover("", limit=1000))
    assert len(found) == 150
    assert clock.sleeps[0] >= 1.5
    paths = [r.path.rsplit("/", 1)[1] for r in discord.requests]
    assert paths == ["1100", "1100", "messages", "messages"]  # the throttled request, again


def test_the_recorded_429_body_is_obeyed(discord: FakeDiscord, clock: ManualClock) -> None:
    limited = recorded("errors.json")["rate_limited"]
    discord.add_channel("1100")
    discord.populate("1100", 5)
    discord.queue(Reply.json(limited["body"], status=429, headers=limited["headers"]))
    assert len(list(discord.source(channels=["1100"], sleep=clock.sleep).discover(""))) == 5
    # Retry-After says 2 s, the body 1.337 s: the longer wait is kept.
    assert clock.sleeps[0] >= 2.0


def test_a_spent_bucket_is_waited_out_before_the_next_request(clock: ManualClock) -> None:
    with FakeDiscord(bucket_size=2, window=5.0, clock=clock.now) as discord:
        discord.add_channel("1100")
        discord.populate("1100", 250)
        found = list(discord.source(channels=["1100"], sleep=clock.sleep).discover("", limit=1000))
        assert len(found) == 250
        # 4 requests in buckets of 2: one wait of the window, and no 429 provoked.
        assert len(discord.requests) == 4
        assert clock.sleeps == [pytest.approx(5.0)]


def test_a_client_that_ignores_the_bucket_meets_429s(clock: ManualClock) -> None:
    # The fake enforces what it announces, so the test above can fail.
    import httpx

    with FakeDiscord(bucket_size=1, window=5.0, clock=clock.now) as discord:
        discord.add_channel("1100")
        headers = {"Authorization": f"Bot {discord.token}"}
        first = httpx.get(f"{discord.api_url}/channels/1100", headers=headers)
        second = httpx.get(f"{discord.api_url}/channels/1100", headers=headers)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["retry_after"] == pytest.approx(5.0)


def test_a_wait_longer_than_the_policy_allows_is_a_rate_limit_error(
    discord: FakeDiscord, clock: ManualClock
) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 5)
    discord.queue(FakeDiscord.rate_limited(3600.0, is_global=True))
    with pytest.raises(RateLimitError, match="3600"):
        list(discord.source(channels=["1100"], sleep=clock.sleep).discover(""))
    assert clock.sleeps == []


def test_server_errors_are_retried_then_reported(discord: FakeDiscord, clock: ManualClock) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 5)
    discord.queue(
        *[Reply.json({"message": "500: Internal Server Error", "code": 0}, status=502)] * 2
    )
    retry = RetryPolicy(attempts=2, base_delay=0.1)
    with pytest.raises(ServiceUnavailableError):
        list(discord.source(channels=["1100"], retry=retry, sleep=clock.sleep).discover(""))
    assert len(clock.sleeps) == 1


# -- deleted and forbidden channels ----------------------------------------------


def test_a_deleted_channel_among_others_is_skipped_and_reported(discord: FakeDiscord) -> None:
    for channel_id in ("1100", "1200", "1300"):
        discord.add_channel(channel_id, name=f"c{channel_id}")
        discord.populate(channel_id, 2, text=f"art {channel_id}")
    discord.delete_channel("1200")
    discord.forbid("1300")
    source = discord.source(channels=["1100", "1200", "1300"])
    found = list(source.discover(""))
    assert {c.extra["channel_id"] for c in found} == {"1100"}
    assert [(f.part, f.status_code) for f in source.failures] == [
        ("channel 1200", 404),
        ("channel 1300", 403),
    ]
    assert "Unknown Channel" in source.failures[0].reason
    assert "Read Message History" in source.failures[1].reason


def test_a_deleted_channel_alone_is_a_clear_error(discord: FakeDiscord) -> None:
    with pytest.raises(ServiceError, match="deleted") as caught:
        list(discord.source(channels=["1100"]).discover(""))
    assert caught.value.status_code == 404


def test_a_forbidden_channel_alone_is_an_authentication_error(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.forbid("1100")
    with pytest.raises(
        AuthenticationError, match="View Channel and Read Message History"
    ) as caught:
        list(discord.source(channels=["1100"]).discover(""))
    assert caught.value.status_code == 403


def test_a_channel_closed_while_paging_ends_that_channel_only(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 150)
    discord.add_channel("1200")
    discord.populate("1200", 3, text="other")
    source = discord.source(channels=["1100", "1200"])
    found = source.discover("", limit=1000)
    first_page = [next(found) for _ in range(100)]
    discord.forbid("1100")  # permissions change between two pages
    rest = list(found)
    assert len(first_page) == 100
    assert {c.extra["channel_id"] for c in rest} == {"1200"}
    assert [f.part for f in source.failures] == ["channel 1100"]


def test_bad_channel_ids_are_refused_at_once() -> None:
    with pytest.raises(ConfigurationError, match="not a Discord channel id"):
        DiscordSource(["general"], token="t")
    with pytest.raises(ConfigurationError, match=r"channels=\[\.\.\.\] or guilds"):
        DiscordSource(token="t")
    with pytest.raises(ConfigurationError, match="list"):
        DiscordSource("1100", token="t")  # type: ignore[arg-type]


def test_unknown_server_is_skipped(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 2)
    source = discord.source(channels=["1100"], guilds=["4242"])
    assert len(list(source.discover(""))) == 2
    assert [(f.part, f.status_code) for f in source.failures] == [("server 4242", 404)]
