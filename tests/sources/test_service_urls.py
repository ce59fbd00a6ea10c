"""Every web source finds its service through an environment variable when no URL is given.

A user behind a gateway (or with a self-hosted Bluesky PDS) sets one variable;
the source then sends every request there. Each test points the variable at a
loopback fake and checks the requests arrived, through the source's real code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from img2img import (
    BlueskySource,
    ConfigurationError,
    DiscordSource,
    GoogleLensSource,
    PatreonSource,
    RedditSource,
    SerpApiImageUploader,
    SerpApiSource,
)
from img2img.sources.settings import service_url
from img2img.testing.fake_bluesky import FakeBluesky
from img2img.testing.fake_discord import FakeDiscord
from img2img.testing.fake_patreon import FakePatreon
from img2img.testing.fake_reddit import FakeReddit
from img2img.testing.fake_serpapi import FakeSerpApi


def test_the_argument_wins_then_the_variable_then_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EXAMPLE_URL", raising=False)
    assert service_url(None, "base_url", "EXAMPLE_URL", "https://api.example") == (
        "https://api.example"
    )
    monkeypatch.setenv("EXAMPLE_URL", "  ")  # blank counts as unset
    assert service_url(None, "base_url", "EXAMPLE_URL", "https://api.example") == (
        "https://api.example"
    )
    monkeypatch.setenv("EXAMPLE_URL", "http://gateway.internal:8080/discord ")
    assert service_url(None, "base_url", "EXAMPLE_URL", "https://api.example") == (
        "http://gateway.internal:8080/discord"
    )
    assert service_url("https://given.example", "base_url", "EXAMPLE_URL", "x") == (
        "https://given.example"
    )


@pytest.mark.parametrize(
    ("make", "variable"),
    [
        (lambda: DiscordSource(channels=["1"]), "DISCORD_BASE_URL"),
        (PatreonSource, "PATREON_BASE_URL"),
        (RedditSource, "REDDIT_BASE_URL"),
        (RedditSource, "REDDIT_OAUTH_URL"),
        (BlueskySource, "BLUESKY_APPVIEW_URL"),
        (BlueskySource, "BLUESKY_PDS_URL"),
        (SerpApiSource, "SERPAPI_BASE_URL"),
        (GoogleLensSource, "SERPAPI_BASE_URL"),
        (SerpApiImageUploader, "SERPAPI_BASE_URL"),
    ],
)
def test_a_variable_that_is_not_a_url_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], object], variable: str
) -> None:
    monkeypatch.setenv(variable, "gateway.internal:8080")
    with pytest.raises(ConfigurationError, match=rf"^{variable} must be an http\(s\) URL"):
        make()


def test_a_bad_argument_is_named_as_the_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=r"^base_url must be an http\(s\) URL"):
        DiscordSource(channels=["1"], base_url="ftp://example.org")


def test_discord_through_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeDiscord() as discord:
        discord.add_channel("1100", name="fan-art")
        discord.populate("1100", 3)
        monkeypatch.setenv("DISCORD_BASE_URL", discord.api_url)
        monkeypatch.setenv("DISCORD_BOT_TOKEN", discord.token)
        source = DiscordSource(channels=["1100"])
        assert source.base_url == discord.api_url
        assert len(list(source.discover(""))) == 3
        assert discord.api_requests()


def test_an_explicit_url_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeDiscord() as discord:
        discord.add_channel("1100")
        discord.populate("1100", 2)
        monkeypatch.setenv("DISCORD_BASE_URL", "http://127.0.0.1:9/api/v10")  # nothing listens
        source = discord.source(channels=["1100"])
        assert len(list(source.discover(""))) == 2


def test_patreon_through_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakePatreon() as patreon:
        patreon.populate(patreon.campaign_id, 2)
        monkeypatch.setenv("PATREON_BASE_URL", patreon.url)
        monkeypatch.setenv("PATREON_ACCESS_TOKEN", patreon.access_token)
        assert len(list(PatreonSource().discover("eiffel"))) == 2
        assert patreon.requests


def test_reddit_through_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeReddit() as reddit:
        reddit.populate("Art", 3)
        monkeypatch.setenv("REDDIT_BASE_URL", reddit.url)  # the token endpoint
        monkeypatch.setenv("REDDIT_OAUTH_URL", reddit.url)  # listings, with the token
        monkeypatch.setenv("REDDIT_CLIENT_ID", reddit.client_id)
        monkeypatch.setenv("REDDIT_CLIENT_SECRET", reddit.client_secret)
        assert len(list(RedditSource(["Art"]).discover("eiffel"))) == 3
        paths = [r.path for r in reddit.requests]
        assert paths[0] == "/api/v1/access_token"
        assert "/r/Art/search" in paths  # no ".json": the OAuth host was asked


def test_bluesky_through_the_pds_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBluesky(anonymous="closed") as bluesky:
        bluesky.populate(3)
        monkeypatch.setenv("BLUESKY_PDS_URL", bluesky.url)
        monkeypatch.setenv("BLUESKY_HANDLE", bluesky.handle)
        monkeypatch.setenv("BLUESKY_APP_PASSWORD", bluesky.app_password)
        assert len(list(BlueskySource().discover("eiffel"))) == 3
        assert bluesky.requests[0].path == "/xrpc/com.atproto.server.createSession"


def test_bluesky_anonymous_through_the_appview_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBluesky() as bluesky:
        bluesky.populate(2)
        monkeypatch.setenv("BLUESKY_APPVIEW_URL", bluesky.url)
        monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
        monkeypatch.delenv("BLUESKY_APP_PASSWORD", raising=False)
        assert len(list(BlueskySource().discover("eiffel"))) == 2


def test_serpapi_sources_and_uploader_through_the_variable(
    monkeypatch: pytest.MonkeyPatch, photo_bytes: bytes
) -> None:
    with FakeSerpApi(total_results=5) as serp:
        monkeypatch.setenv("SERPAPI_BASE_URL", serp.url)
        monkeypatch.setenv("SERPAPI_API_KEY", serp.api_key)
        assert len(list(SerpApiSource(sleep=lambda s: None).discover("eiffel"))) == 5
        lens = GoogleLensSource(sleep=lambda s: None)
        assert list(lens.lookup(photo_bytes))
        assert len(serp.lens.uploads) == 1


@pytest.fixture
def photo_bytes(photos: dict[str, object]) -> bytes:
    import io

    from PIL import Image

    photo = photos["coffee"]
    assert isinstance(photo, Image.Image)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
