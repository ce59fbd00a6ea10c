"""Find where an artwork was reposted in a Discord server. Runs offline by default.

    python examples/discord_reposts.py
    DISCORD_BOT_TOKEN=… python examples/discord_reposts.py --guild 1012456372846182440 --query art.png

Offline, it builds a small Discord server on 127.0.0.1 (a fake of Discord's
REST API and CDN, driven by the real DiscordSource): members post real photos
from scikit-image, one of them a resized, cropped, re-saved copy of "the
artwork", without a file extension; one channel is closed to the bot. It then
indexes every image the bot can read and asks where the original artwork
appears: the answer is the repost's message link, author and time.

With --guild or --channel it reads your server through your bot instead
(the bot needs View Channel and Read Message History, and the Message Content
intent to see attachments).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from img2img import (
    LOOPBACK_NETWORKS,
    DiscordSource,
    EfficientNetEmbedder,
    HttpFetcher,
    ImageSearchClient,
    InMemoryStore,
)
from img2img.loading import ImageInput
from img2img.testing.edits import jpeg_bytes

ARTWORK = "coffee"


@contextmanager
def fake_server() -> Iterator[tuple[DiscordSource, HttpFetcher, bytes]]:
    """A loopback Discord server with three channels; yields a source, a fetcher that
    may reach 127.0.0.1, and the original artwork to search with."""
    from img2img.testing.fake_discord import FakeDiscord
    from img2img.testing.photos import edited_copy, sample_photos

    photos = sample_photos()
    artwork = photos.pop(ARTWORK)
    with ExitStack() as stack:
        discord = stack.enter_context(FakeDiscord())
        fetcher = stack.enter_context(HttpFetcher(allowed_networks=LOOPBACK_NETWORKS))
        guild = "1012456372846182440"
        discord.add_channel("1100", guild_id=guild, name="general")
        discord.add_channel("1200", guild_id=guild, name="fan-art")
        discord.add_channel("1300", guild_id=guild, name="mod-chat")
        discord.forbid("1300")  # the bot was never given this channel
        members = ["mona", "pat", "lou", "wren", "dan"]
        for n, (name, photo) in enumerate(photos.items()):
            channel = "1200" if n % 2 else "1100"
            discord.post(
                channel,
                f"my {name} piece",
                author=members[n % 5],
                files=[(f"{name}.jpg", jpeg_bytes(photo))],
            )
            if n % 4 == 0:
                discord.post(channel, "love this!", author=members[(n + 2) % 5])
        # The repost: an edited copy, uploaded from a phone as "image" with no extension.
        copy = jpeg_bytes(edited_copy(artwork), quality=70)
        discord.post(
            "1200", "look what I made", author="reposter", files=[("image", copy, "image/jpeg")]
        )
        source = discord.source(guilds=[guild])
        yield source, fetcher, jpeg_bytes(artwork, quality=95)


def find_reposts(source: DiscordSource, query: ImageInput, fetcher: HttpFetcher | None) -> int:
    """Index what the bot can read, then show where the query image appears."""
    with ImageSearchClient(
        source=source, embedder=EfficientNetEmbedder(), store=InMemoryStore(), fetcher=fetcher
    ) as client:
        report = client.index("", limit=2000)  # an empty keyphrase takes every image
        print(f"Indexed the server: {report}")
        for failure in report.part_failures:
            print(f"  skipped {failure.part}: {failure.reason}")
        for failure in report.failures[:5]:
            print(f"  {failure.stage:7} {failure.url}: {failure.reason}")

        print("\nWhere the artwork appears:")
        matches = client.search(query, k=3)
        for rank, match in enumerate(matches, start=1):
            meta = match.metadata
            print(
                f"  {rank}. score {match.score:.3f}  #{meta.get('channel_name', '?')} "
                f"by {meta.get('author', '?')} at {meta.get('posted_at', '?')}\n"
                f"     {match.page_url}"
            )
    if matches and matches[0].metadata.get("author") == "reposter":
        print(f"\nRepost found at rank 1: {matches[0].page_url}")
    return 0 if matches else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--guild", action="append", default=[], help="a server id to read")
    parser.add_argument("--channel", action="append", default=[], help="a channel id or link")
    parser.add_argument("--query", type=Path, help="the artwork to look for")
    args = parser.parse_args(argv)
    if not args.guild and not args.channel:
        print("A Discord server on 127.0.0.1, offline; embedder EfficientNet-Lite0\n")
        with fake_server() as (source, fetcher, artwork):
            return find_reposts(source, artwork, fetcher)
    if args.query is None:
        parser.error("--query is needed with --guild or --channel")
    source = DiscordSource(args.channel, guilds=args.guild)
    return find_reposts(source, args.query, None)


if __name__ == "__main__":
    sys.exit(main())
