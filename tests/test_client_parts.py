"""``index()`` over sources that read several parts: every image, and the parts skipped.

A loopback Discord with real photos; the client, fetcher, store and source are
the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image

from img2img import (
    LOOPBACK_NETWORKS,
    BlueskySource,
    ConfigurationError,
    HashEmbedder,
    HttpFetcher,
    ImageSearchClient,
    ImageSource,
    InMemoryStore,
    PartFailure,
    SourceWithParts,
    StaticSource,
)
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_discord import FakeDiscord


@pytest.fixture
def discord(photos: dict[str, Image.Image]) -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        fake.add_channel("1100", guild_id="900", name="general")
        fake.add_channel("1300", guild_id="900", name="mod-chat")
        for name in ("coffee", "rocket", "chelsea"):
            fake.post("1100", f"my {name} piece", files=[(f"{name}.jpg", jpeg_bytes(photos[name]))])
        fake.post("1300", "secret", files=[("astronaut.jpg", jpeg_bytes(photos["astronaut"]))])
        yield fake


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(allowed_networks=LOOPBACK_NETWORKS) as fetcher:
        yield fetcher


def client_of(source: ImageSource, fetcher: HttpFetcher) -> ImageSearchClient:
    return ImageSearchClient(
        source=source, embedder=HashEmbedder(), store=InMemoryStore(), fetcher=fetcher
    )


def test_an_empty_keyphrase_takes_every_image_and_records_none(
    discord: FakeDiscord, fetcher: HttpFetcher
) -> None:
    client = client_of(discord.source(channels=["1100"]), fetcher)
    report = client.index("")
    assert (report.discovered, report.indexed, report.failed) == (3, 3, 0)
    assert report.part_failures == ()
    assert report.keyphrase is None
    stored = [record for page in client.store.scan() for record in page]
    assert all("keyphrase" not in record.metadata for record in stored)
    assert {record.metadata["filename"] for record in stored} == {
        "coffee.jpg",
        "rocket.jpg",
        "chelsea.jpg",
    }


def test_a_forbidden_channel_is_in_the_report(discord: FakeDiscord, fetcher: HttpFetcher) -> None:
    discord.forbid("1300")
    source = discord.source(channels=["1100", "1300"])
    assert isinstance(source, SourceWithParts)
    report = client_of(source, fetcher).index("piece")
    assert report.indexed == 3
    (skipped,) = report.part_failures
    assert isinstance(skipped, PartFailure)
    assert (skipped.part, skipped.status_code) == ("channel 1300", 403)
    assert "Missing Access" in skipped.reason
    assert "1 parts unread" in str(report)
    # A run that reads every part has a clean report, though the source skipped one before.
    source.channels = ("1100",)
    assert client_of(source, fetcher).index("").part_failures == ()


def test_sources_without_parts_report_none(fetcher: HttpFetcher) -> None:
    source = StaticSource([])
    assert not isinstance(source, SourceWithParts)
    assert client_of(source, fetcher).index("anything").part_failures == ()


def test_a_search_engine_refuses_an_empty_keyphrase(fetcher: HttpFetcher) -> None:
    client = client_of(BlueskySource(appview_url="http://127.0.0.1:9"), fetcher)
    with pytest.raises(ConfigurationError, match="needs a keyphrase"):
        client.index("  ")
    with pytest.raises(ConfigurationError, match="must be text"):
        client.index(None)  # type: ignore[arg-type]
