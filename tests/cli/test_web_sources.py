"""``index --source discord|patreon|reddit|bluesky`` in a process of its own, against loopback fakes.

The command reaches each fake the way a user behind a gateway would reach a
service: its address and credentials in environment variables. Images are
served by a loopback web server (allowed with ``--allow-network``), or, for
Discord, by the fake's own CDN.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from PIL import Image

from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_bluesky import FakeBluesky, bluesky_post
from img2img.testing.fake_discord import FakeDiscord
from img2img.testing.fake_patreon import FakePatreon, patreon_post
from img2img.testing.fake_reddit import FakeReddit
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.reddit_posts import reddit_image_post

LOOPBACK = ("--allow-network", "127.0.0.0/8")


@pytest.fixture(scope="module")
def jpegs(photos: dict[str, Image.Image]) -> list[bytes]:
    return [jpeg_bytes(photo) for photo in list(photos.values())[:6]]


@pytest.fixture
def web(jpegs: list[bytes]) -> Iterator[LoopbackServer]:
    """Image n of the fakes' posts at ``/…-n.jpg``."""

    def serve(request: RecordedRequest) -> Reply:
        number = int(re.findall(r"\d+", request.path)[-1])
        return Reply(body=jpegs[number % len(jpegs)], headers={"Content-Type": "image/jpeg"})

    with LoopbackServer(serve) as server:
        yield server


@pytest.fixture
def discord(jpegs: list[bytes]) -> Iterator[FakeDiscord]:
    """Server 900: #general with three images, #fan-art with two, #mod-chat closed to the bot."""
    with FakeDiscord() as fake:
        fake.add_channel("1100", guild_id="900", name="general")
        fake.add_channel("1200", guild_id="900", name="fan-art")
        fake.add_channel("1300", guild_id="900", name="mod-chat")
        for n in range(3):
            fake.post("1100", f"my eiffel tower #{n}", files=[(f"tower-{n}.jpg", jpegs[n])])
        fake.post("1200", "a cat", author="mona", files=[("cat.jpg", jpegs[3])])
        fake.post("1200", "a phone upload", files=[("image", jpegs[4], "image/jpeg")])
        fake.post("1300", "secret", files=[("secret.jpg", jpegs[5])])
        fake.forbid("1300")
        yield fake


def _discord_env(discord: FakeDiscord, token: str | None = None) -> dict[str, str]:
    return {"DISCORD_BASE_URL": discord.api_url, "DISCORD_BOT_TOKEN": token or discord.token}


def _stored(store: Path, home: Path) -> list[dict[str, Any]]:
    listed = run_cli("--store", store, "list", "--all", "--json", home=home)
    assert listed.code == 0, listed.err
    rows: list[dict[str, Any]] = listed.json()
    return rows


def test_discord_every_image_of_a_server_and_the_channel_it_could_not_read(
    discord: FakeDiscord, store: Path, home: Path
) -> None:
    done = run_cli(
        "--store", store, "index", "--source", "discord", "--guild", "900", "--json", *LOOPBACK,
        home=home, **_discord_env(discord),
    )  # fmt: skip
    assert done.code == 3, done.err  # finished, but one channel was not read
    report = done.json()
    assert (report["discovered"], report["indexed"], report["failed"]) == (5, 5, 0)
    (unread,) = report["part_failures"]
    assert (unread["part"], unread["status_code"]) == ("channel 1300", 403)
    assert "Read Message History" in unread["reason"]
    rows = _stored(store, home)
    assert {r["channel_name"] for r in rows} == {"general", "fan-art"}
    assert all(
        re.match(r"https://discord\.com/channels/900/1[12]00/\d+$", r["page_url"]) for r in rows
    )
    assert all("keyphrase" not in r for r in rows)  # an empty keyphrase is not recorded
    assert {r["filename"] for r in rows} >= {"image", "cat.jpg"}  # a file with no extension too
    assert discord.token not in done.out + done.err


def test_discord_keyphrase_channel_link_and_message_limit(
    discord: FakeDiscord, store: Path, home: Path
) -> None:
    done = run_cli(
        "--store", store, "index", "eiffel tower", "--source", "discord",
        "--channel", "https://discord.com/channels/900/1100", "--channel", "1200",
        "--max-messages", "2", "--since", "2020-01-01", *LOOPBACK, home=home,
        **_discord_env(discord),
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "indexed 2" in done.out  # the two newest of #general; #fan-art has no tower
    rows = _stored(store, home)
    assert {r["keyphrase"] for r in rows} == {"eiffel tower"}
    assert {r["filename"] for r in rows} == {"tower-1.jpg", "tower-2.jpg"}


def test_discord_forbidden_channel_in_the_table(
    discord: FakeDiscord, store: Path, home: Path
) -> None:
    done = run_cli(
        "--store", store, "index", "--source", "discord", "--channel", "1100",
        "--channel", "1300", *LOOPBACK, home=home, **_discord_env(discord),
    )  # fmt: skip
    assert done.code == 3, done.err
    assert "could not read 1" in done.out
    assert "channel 1300" in done.out


def test_discord_bad_token_is_one_line_naming_the_variable(
    discord: FakeDiscord, store: Path, home: Path
) -> None:
    done = run_cli(
        "--store", store, "index", "--source", "discord", "--channel", "1100", *LOOPBACK,
        home=home, **_discord_env(discord, token="not-the-token"),
    )  # fmt: skip
    assert done.code == 1
    (line,) = done.err.splitlines()[-1:]
    assert line.startswith("img2img: error: Discord refused the bot token")
    assert "DISCORD_BOT_TOKEN" in line
    assert "not-the-token" not in done.out + done.err


def test_discord_without_a_token_stops_before_the_model(store: Path, home: Path) -> None:
    done = run_cli("--store", store, "index", "--source", "discord", "--channel", "1", home=home)
    assert done.code == 1
    assert done.err.splitlines() == [
        "img2img: error: index --source discord reads channels through a bot: set "
        "DISCORD_BOT_TOKEN to your bot's token (Discord Developer Portal -> your application "
        "-> Bot -> Reset Token)"
    ]


def test_patreon_campaign_posts(web: LoopbackServer, store: Path, home: Path) -> None:
    with FakePatreon() as patreon:
        posts = [
            patreon_post(str(100 + n), f"Eiffel tower study {n}", f'<p><img src="{web.url}/study-{n}.jpg"></p>')
            for n in range(3)
        ]  # fmt: skip
        patreon.add_posts(patreon.campaign_id, posts)
        patreon.add_campaign("999", vanity="someone-else", owned=False)
        done = run_cli(
            "--store", store, "index", "--source", "patreon", "--campaign", patreon.campaign_id,
            "--campaign", "999", "--json", *LOOPBACK, home=home,
            PATREON_BASE_URL=patreon.url, PATREON_ACCESS_TOKEN=patreon.access_token,
        )  # fmt: skip
    assert done.code == 3, done.err
    report = done.json()
    assert report["indexed"] == 3
    assert [p["part"] for p in report["part_failures"]] == ["campaign 999"]
    rows = _stored(store, home)
    assert {r["source"] for r in rows} == {"patreon"}
    assert all(r["page_url"].startswith("https://www.patreon.com/posts/") for r in rows)


def test_patreon_without_a_token(store: Path, home: Path) -> None:
    done = run_cli("--store", store, "index", "--source", "patreon", home=home)
    assert done.code == 1
    assert "set PATREON_ACCESS_TOKEN" in done.err


def test_reddit_search_with_options_and_oauth(web: LoopbackServer, store: Path, home: Path) -> None:
    with FakeReddit() as reddit:
        posts = [
            reddit_image_post(f"art{n:04d}", "Art", f"eiffel tower {n}", image_url=f"{web.url}/art-{n}.jpg")
            for n in range(4)
        ]  # fmt: skip
        reddit.add_posts("Art", posts)
        reddit.make_private("SecretArt")
        done = run_cli(
            "--store", store, "index", "eiffel tower", "--source", "reddit",
            "--subreddit", "Art", "--subreddit", "r/SecretArt", "--sort", "new", "--time", "week",
            "--user-agent", "test:img2img:1.0 (by /u/tester)", "--json", *LOOPBACK, home=home,
            REDDIT_BASE_URL=reddit.url, REDDIT_OAUTH_URL=reddit.url,
            REDDIT_CLIENT_ID=reddit.client_id, REDDIT_CLIENT_SECRET=reddit.client_secret,
        )  # fmt: skip
        searches = [r for r in reddit.requests if r.path == "/r/Art/search"]
    assert done.code == 3, done.err
    report = done.json()
    assert report["indexed"] == 4
    assert [p["part"] for p in report["part_failures"]] == ["r/SecretArt"]
    (search,) = searches
    assert (search.param("q"), search.param("sort"), search.param("t")) == (
        "eiffel tower",
        "new",
        "week",
    )
    assert search.headers["user-agent"] == "test:img2img:1.0 (by /u/tester)"
    assert search.headers["authorization"].startswith("bearer ")
    assert reddit.client_secret not in done.out + done.err


def test_reddit_newest_posts_of_a_subreddit_without_a_keyphrase(
    web: LoopbackServer, store: Path, home: Path
) -> None:
    with FakeReddit() as reddit:
        reddit.add_posts(
            "Art", [reddit_image_post("a1", "Art", "anything", image_url=f"{web.url}/a-1.jpg")]
        )
        done = run_cli(
            "--store", store, "index", "--source", "reddit", "--subreddit", "Art", *LOOPBACK,
            home=home, REDDIT_BASE_URL=reddit.url,
        )  # fmt: skip
        assert [r.path for r in reddit.requests] == ["/r/Art/new.json"]
    assert done.code == 0, done.err


def _on_loopback(post: dict[str, Any], web: LoopbackServer, n: int) -> dict[str, Any]:
    for image in post["embed"]["images"]:
        image["fullsize"] = f"{web.url}/bsky-{n}.jpg"
    return post


def test_bluesky_signed_in_with_filters(web: LoopbackServer, store: Path, home: Path) -> None:
    with FakeBluesky(anonymous="closed") as bluesky:
        bluesky.add_posts(
            [
                _on_loopback(bluesky_post(f"3k{n}", "artist.bsky.social", f"eiffel tower {n}", images=1), web, n)
                for n in range(3)
            ]
        )  # fmt: skip
        done = run_cli(
            "--store", store, "index", "eiffel tower", "--source", "bluesky", "--sort", "top",
            "--lang", "en", "--author", "artist.bsky.social", "--since", "2026-01-01",
            "--until", "2026-12-31T00:00:00Z", "--max-pages", "2", "--json", *LOOPBACK,
            home=home, BLUESKY_PDS_URL=bluesky.url, BLUESKY_HANDLE=bluesky.handle,
            BLUESKY_APP_PASSWORD=bluesky.app_password,
        )  # fmt: skip
        (search,) = bluesky.search_requests()
    assert done.code == 0, done.err
    assert done.json()["indexed"] == 3
    sent = {k: search.param(k) for k in ("q", "sort", "lang", "author", "since", "until")}
    assert sent == {
        "q": "eiffel tower",
        "sort": "top",
        "lang": "en",
        "author": "artist.bsky.social",
        "since": "2026-01-01",
        "until": "2026-12-31T00:00:00Z",
    }
    assert all(r["page_url"].startswith("https://bsky.app/profile/") for r in _stored(store, home))


def test_bluesky_refused_sign_in_names_the_variables(store: Path, home: Path) -> None:
    with FakeBluesky() as bluesky:
        done = run_cli(
            "--store", store, "index", "cats", "--source", "bluesky", home=home,
            BLUESKY_PDS_URL=bluesky.url, BLUESKY_HANDLE=bluesky.handle,
            BLUESKY_APP_PASSWORD="wrong-password",
        )  # fmt: skip
    assert done.code == 1
    assert "BLUESKY_APP_PASSWORD" in done.err.splitlines()[-1]
    assert "wrong-password" not in done.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cats", "--source", "reddit", "--channel", "1"], "--channel is an option of --source discord"),
        (["cats", "--site", "x.com", "--source", "bluesky"], "--site is an option of --source google"),
        (["--source", "bluesky"], "--source bluesky needs a KEYPHRASE"),
        (["--source", "google"], "--source google needs a KEYPHRASE"),
        (["--source", "reddit"], "needs a KEYPHRASE, or --subreddit"),
        (["cats", "--source", "bluesky", "--sort", "hot"], "takes --sort latest, top"),
        (["--source", "discord"], "needs --channel ID or --guild ID"),
        (["cats", "--source", "bluesky", "--since", "last week"], "not an ISO 8601 date"),
        (["cats", "--source", "myspace"], "--source myspace: no such source is installed"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(args: list[str], message: str, store: Path, home: Path) -> None:
    done = run_cli("--store", store, "index", *args, home=home)
    assert done.code == 2, done.err
    assert message in done.err
