"""RedditSource's failures: credentials, blocks, rate limits, private and banned subreddits."""

from __future__ import annotations

import pytest

from img2img.errors import AuthenticationError, ConfigurationError, RateLimitError, ServiceError
from img2img.sources.reddit.source import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from img2img.testing.clock import ManualClock
from img2img.testing.fake_reddit import FakeReddit

SECRET = "s3cr3t-reddit-app-secret-value"


def test_refused_app_credentials_are_an_authentication_error(reddit: FakeReddit) -> None:
    source = reddit.source(client_id=reddit.client_id, client_secret=SECRET)
    assert SECRET not in repr(source)
    with pytest.raises(AuthenticationError, match=CLIENT_SECRET_ENV) as caught:
        list(source.discover("tower"))
    assert SECRET not in str(caught.value)
    assert caught.value.status_code == 401


def test_half_the_credentials_is_a_configuration_error(
    reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CLIENT_ID_ENV, "only-the-id")
    monkeypatch.delenv(CLIENT_SECRET_ENV, raising=False)
    with pytest.raises(ConfigurationError, match=CLIENT_SECRET_ENV):
        reddit.source().discover("tower")
    assert reddit.requests == []


def test_credentials_come_from_the_environment(
    reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    reddit.populate("Art", 2)
    monkeypatch.setenv(CLIENT_ID_ENV, reddit.client_id)
    monkeypatch.setenv(CLIENT_SECRET_ENV, reddit.client_secret)
    assert len(list(reddit.source().discover("eiffel tower"))) == 2
    assert reddit.requests[0].path == "/api/v1/access_token"


def test_a_blocked_anonymous_client_is_told_to_use_oauth() -> None:
    with FakeReddit(block_anonymous=True) as reddit:
        reddit.populate("Art", 2)
        with pytest.raises(AuthenticationError, match=CLIENT_ID_ENV) as caught:
            list(reddit.source().discover("tower"))
        assert caught.value.status_code == 403
        assert len(list(reddit.source(oauth=True).discover("eiffel tower"))) == 2


def test_private_and_banned_subreddits_are_skipped_and_reported(reddit: FakeReddit) -> None:
    for name in ("Art", "SecretArt", "BannedArt"):
        reddit.populate(name, 2)
    reddit.make_private("SecretArt")
    reddit.ban("BannedArt")
    source = reddit.source(subreddits=["SecretArt", "Art", "BannedArt"])
    found = list(source.discover("eiffel tower"))
    assert {c.extra["subreddit"] for c in found} == {"Art"}
    assert [(f.part, f.status_code) for f in source.failures] == [
        ("r/SecretArt", 403),
        ("r/BannedArt", 404),
    ]
    assert "private" in source.failures[0].reason
    assert "banned" in source.failures[1].reason


def test_only_unreadable_subreddits_is_an_error(reddit: FakeReddit) -> None:
    reddit.populate("SecretArt", 2)
    reddit.make_private("SecretArt")
    with pytest.raises(ServiceError, match="private") as caught:
        list(reddit.source(subreddits=["SecretArt", "NoSuchSub"]).discover("tower"))
    assert caught.value.status_code == 403
    assert "NoSuchSub" in str(caught.value)


def test_a_429_is_waited_out_as_the_reset_header_says(
    reddit: FakeReddit, clock: ManualClock
) -> None:
    reddit.populate("Art", 150)
    reddit.queue(FakeReddit.rate_limited(reset=7))
    found = list(reddit.source(sleep=clock.sleep).discover("eiffel tower", limit=1000))
    assert len(found) == 150
    assert clock.sleeps[0] >= 7


def test_a_spent_window_is_waited_out_before_the_next_request(clock: ManualClock) -> None:
    with FakeReddit(bucket_size=2, window=30.0, clock=clock.now) as reddit:
        reddit.populate("Art", 350)
        found = list(reddit.source(sleep=clock.sleep).discover("eiffel tower", limit=1000))
        assert len(found) == 350
        assert len(reddit.requests) == 4  # no 429 was provoked
        assert clock.sleeps == [pytest.approx(30.0)]


def test_a_reset_past_the_longest_wait_is_a_rate_limit_error(
    reddit: FakeReddit, clock: ManualClock
) -> None:
    reddit.populate("Art", 3)
    reddit.queue(FakeReddit.rate_limited(reset=540))
    with pytest.raises(RateLimitError):
        list(reddit.source(sleep=clock.sleep).discover("eiffel tower"))
    assert clock.sleeps == []
