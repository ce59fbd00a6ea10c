"""DiscordSource against FakeDiscord: what becomes a candidate, paging, keyphrases, provenance."""

from __future__ import annotations

import datetime
import io

import pytest
from discord_helpers import CHANNEL, GUILD, assert_provenance

from img2img import HashEmbedder, HttpFetcher, ImageCandidate, ImageSearchClient, InMemoryStore
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.sources.discord.source import PAGE_SIZE, DiscordSource
from img2img.testing.contracts import ImageSourceContract
from img2img.testing.discord_objects import (
    discord_attachment,
    discord_embed,
    discord_message,
    signed_cdn_url,
    snowflake,
)
from img2img.testing.fake_discord import FakeDiscord


def png(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


class TestDiscordSourceContract(ImageSourceContract):
    @pytest.fixture
    def source(self, discord: FakeDiscord) -> DiscordSource:
        discord.add_channel("1100", name="fan-art")
        discord.populate("1100", 12)
        return discord.source(channels=["1100"])


# -- what a message gives -----------------------------------------------------


def test_recorded_messages_give_their_images(recorded_channel: FakeDiscord) -> None:
    candidates = list(recorded_channel.source(channels=[CHANNEL]).discover(""))
    by_kind = [
        (c.extra["image_kind"], c.image_url.split("?")[0].rsplit("/", 1)[1]) for c in candidates
    ]
    assert by_kind == [
        ("embed", "Xq3ZbTf.jpeg"),  # a posted image link
        ("attachment", "image"),  # no extension: image/png decides
        ("attachment", "dusk_tower.webp"),  # inside a forwarded message
        ("attachment", "eiffel_tower_final.png"),  # the mp4 beside it is not an image
        ("embed", "eiffel-tower-print-large.jpg"),  # a rich embed's image …
        ("embed", "logo.png"),  # … and its thumbnail; the gifv embed is a video
    ]
    for candidate in candidates:
        assert_provenance(candidate)
        assert candidate.extra["guild_id"] == GUILD
        assert candidate.extra["channel_name"] == "fan-art"
    assert [c.position for c in candidates] == [1, 2, 3, 4, 5, 6]


def test_recorded_fields_land_in_the_provenance(recorded_channel: FakeDiscord) -> None:
    first, screenshot, forwarded, painting, *_ = recorded_channel.source(
        channels=[CHANNEL]
    ).discover("")
    assert first.page_url == f"https://discord.com/channels/{GUILD}/{CHANNEL}/1301210933475540992"
    assert first.title == "found my eiffel tower painting reposted here"
    assert first.extra["author"] == "mona_l"
    assert first.extra["author_name"] == "Mona"
    assert first.extra["posted_at"] == "2024-10-30T18:04:11.208000+00:00"
    assert first.extra["posted_at_unix"] == 1730311451
    assert first.extra["proxy_url"].startswith("https://images-ext-1.discordapp.net/")
    assert (first.width, first.height) == (1600, 1200)
    assert screenshot.extra["content_type"] == "image/png"
    assert screenshot.extra["filename"] == "image"
    assert "author_name" not in screenshot.extra  # null global_name: left out, never None
    assert forwarded.extra["forwarded"] is True
    assert forwarded.title == "eiffel tower at dusk, gouache"
    assert painting.extra["spoiler"] is True
    assert painting.extra["alt_text"] == "Painting of the Eiffel Tower against a pink sky"
    assert (painting.width, painting.height) == (2400, 3200)


def test_keyphrase_filters_by_message_text(recorded_channel: FakeDiscord) -> None:
    source = recorded_channel.source(channels=[CHANNEL])
    assert len(list(source.discover("  EIFFEL   tower "))) == 6
    (forwarded,) = source.discover("gouache")  # text of the forwarded message
    assert forwarded.extra["forwarded"] is True
    (shop,) = {c.extra["message_id"] for c in source.discover("giclée print")}
    assert shop == "1301197497459142717"  # an embed title counts
    assert list(source.discover("good morning")) == []  # that message has no image
    assert list(source.discover("nothing like this")) == []


def test_files_without_an_extension_are_decided_by_content_type(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    cdn = "https://cdn.discordapp.com/attachments/1100/1/"
    attachments = [
        discord_attachment("11", "image", cdn + "image?ex=1&is=2&hm=3", content_type="image/jpeg"),
        discord_attachment("12", "photo.png", cdn + "photo.png", content_type="application/pdf"),
        discord_attachment("13", "scan", cdn + "scan", content_type=None, width=None),
        discord_attachment("14", "old.jpg", cdn + "old.jpg", content_type=None),
        discord_attachment("15", "logo.svg", cdn + "logo.svg", content_type="image/svg+xml"),
    ]
    discord.add_messages("1100", [discord_message("1", "1100", "files", attachments=attachments)])
    names = [c.extra["filename"] for c in discord.source(channels=["1100"]).discover("")]
    assert names == ["image", "old.jpg"]


def test_the_same_image_in_later_messages_is_dropped(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    path = "/attachments/1100/1000/art.png"
    original = signed_cdn_url("https://cdn.discordapp.com", path, issued=1_700_000_000)
    # Read again a day later: a new signature; pasted as a link it is embedded via the proxy host.
    resigned = signed_cdn_url("https://media.discordapp.net", path, issued=1_700_086_400)
    messages = [
        discord_message(
            "1000", "1100", "art", attachments=[discord_attachment("1", "art.png", original)]
        ),
        discord_message("2000", "1100", "again", embeds=[discord_embed(resigned)]),
        discord_message(
            "3000", "1100", "and again", attachments=[discord_attachment("1", "art.png", original)]
        ),
        discord_message(
            "4000", "1100", "other", embeds=[discord_embed("https://i.imgur.com/x.png")]
        ),
    ]
    discord.add_messages("1100", messages)
    found = list(discord.source(channels=["1100"]).discover(""))
    # Newest first: the earliest message's copy is seen last and dropped.
    assert [c.extra["message_id"] for c in found] == ["4000", "3000"]


# -- paging -------------------------------------------------------------------


def test_pages_back_through_history_with_before(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 250)
    candidates = list(discord.source(channels=["1100"]).discover("", limit=1000))
    assert len(candidates) == 250
    assert candidates[0].extra["message_id"] > candidates[-1].extra["message_id"]  # newest first
    history = [r for r in discord.api_requests() if r.path.endswith("/messages")]
    assert [r.param("limit") for r in history] == [str(PAGE_SIZE)] * 3
    befores = [r.param("before") for r in history]
    assert befores[0] is None
    # Each page starts before the oldest message of the page before it.
    ids = [c.extra["message_id"] for c in candidates]
    assert befores[1:] == [ids[99], ids[199]]


def test_stops_paging_once_the_limit_is_reached(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 250)
    found = discord.source(channels=["1100"]).discover("", limit=150)
    assert len(list(found)) == 150
    assert len([r for r in discord.api_requests() if r.path.endswith("/messages")]) == 2


def test_is_lazy(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 250)
    found = discord.source(channels=["1100"]).discover("", limit=1000)
    assert discord.requests == []  # nothing is sent before iteration
    next(found)
    assert len(discord.api_requests()) == 2  # the channel, then one page


def test_since_and_max_messages_bound_the_history(discord: FakeDiscord) -> None:
    discord.add_channel("1100")
    discord.populate("1100", 250)  # one message an hour, the newest at 2026-03-01 11:00
    since = datetime.datetime(2026, 2, 28, 12, 0)
    recent = list(discord.source(channels=["1100"], since=since).discover(""))
    assert len(recent) == 24
    assert all(c.extra["posted_at"] >= "2026-02-28T12:00" for c in recent)
    assert len(list(discord.source(channels=["1100"], max_messages=30).discover(""))) == 30


def test_reads_every_text_channel_of_a_server(discord: FakeDiscord) -> None:
    for channel_id, kind, name in [
        ("2001", 0, "general"),
        ("2002", 2, "voice"),
        ("2003", 4, "a category"),
        ("2004", 5, "announcements"),
        ("2005", 0, "mods-only"),
    ]:
        discord.add_channel(channel_id, guild_id="900", name=name, kind=kind)
        discord.populate(channel_id, 2, text=f"{name} art")
    discord.forbid("2005")
    source = discord.source(guilds=["900"])
    found = list(source.discover(""))
    assert {c.extra["channel_name"] for c in found} == {"general", "announcements"}
    assert [f.part for f in source.failures] == ["channel 2005"]


def test_channel_links_are_accepted() -> None:
    source = DiscordSource(["https://discord.com/channels/900/1100", 1200, "1300"], token="t")
    assert source.channels == ("1100", "1200", "1300")


# -- the whole way: indexing a channel ------------------------------------------


def test_indexes_a_channel_and_finds_the_message_of_a_picture(discord: FakeDiscord) -> None:
    discord.add_channel("1100", guild_id="900", name="fan-art")
    discord.post("1100", "my eiffel tower", author="mona", files=[("tower.png", png("navy"))])
    discord.post("1100", "a cat", author="pat", files=[("image", png("orange"), "image/png")])
    discord.post("1100", "just words")
    source = discord.source(channels=["1100"])
    with (
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS) as fetcher,
        ImageSearchClient(
            source=source, embedder=HashEmbedder(), store=InMemoryStore(), fetcher=fetcher
        ) as client,
    ):
        report = client.add(source.discover(""))
        assert (report.discovered, report.indexed, report.failed) == (2, 2, 0)
        (match,) = client.search(png("orange"), k=1)
    assert match.page_url is not None
    assert match.page_url.startswith("https://discord.com/channels/900/1100/")
    assert match.metadata["author"] == "pat"
    assert match.metadata["channel_name"] == "fan-art"
    assert match.metadata["filename"] == "image"
    assert match.image_url is not None
    assert "ex=" in match.image_url


def test_message_ids_are_snowflakes_in_time_order() -> None:
    early = snowflake(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    late = snowflake(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc))
    assert int(early) < int(late)


def test_a_reread_attachment_keeps_its_identity_though_its_link_is_signed_anew() -> None:
    from img2img.provenance import record_id
    from img2img.sources.discord.messages import ChannelInfo, candidates_from_message
    from img2img.testing.discord_objects import discord_attachment, discord_message, signed_cdn_url

    def read_at(issued: int) -> ImageCandidate:
        url = signed_cdn_url("https://cdn.discordapp.com", "/attachments/1/2/a.png", issued=issued)
        message = discord_message(
            "2", "1", "art", attachments=[discord_attachment("3", "a.png", url)]
        )
        (candidate,) = candidates_from_message(message, ChannelInfo("1", "900"))
        return candidate

    monday, tuesday = read_at(1_700_000_000), read_at(1_700_086_400)
    assert monday.image_url != tuesday.image_url  # the signature changed
    assert record_id(monday) == record_id(tuesday)  # the stored record did not
