"""Watch an artwork: be told when it appears somewhere new, and when a posting is gone. Offline.

    python examples/watch_leaks.py

An artist watches one picture. Everything else is played on 127.0.0.1: a
Discord server (``FakeDiscord``, read by the real ``DiscordSource``), TinEye
(``FakeTinEye``, asked by the real ``TinEyeSource``) and the web (a loopback
server). Between checks the world changes:

1. first check: nothing is posted anywhere yet;
2. a member reposts a cropped copy in #leaks, and TinEye finds a copy on a
   blog: the second check reports both as new, each verified;
3. the blog takes its copy down: the third check reports it gone.

With real keys (``TINEYE_API_KEY``, ``DISCORD_BOT_TOKEN``) the same calls run
against the real services; ``img2img watch check`` does the same from cron.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

from img2img import (
    LOOPBACK_NETWORKS,
    EfficientNetEmbedder,
    HttpFetcher,
    ImageSearchClient,
    LocalStore,
)
from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.fake_discord import FakeDiscord
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


def show(title: str, check: object) -> None:
    print(f"\n{title}: {check}")
    for picture in check.pictures:  # type: ignore[attr-defined]
        for posting in picture.new:
            print(f"  new   {posting.page_url}  (found by {', '.join(posting.found_by)})")
        for posting in picture.still_there:
            print(f"  still {posting.page_url}")
        for posting in picture.gone:
            print(f"  gone  {posting.page_url}")


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="img2img-watch-"))
    artwork = sample_photos(("coffee",))["coffee"]
    (workdir / "artwork.png").write_bytes(jpeg_bytes(artwork, quality=95))
    files: dict[str, bytes] = {}

    def web(request: RecordedRequest) -> Reply:
        if request.path not in files:
            return Reply(status=404, body=b"not found")
        return Reply(body=files[request.path], headers={"Content-Type": "image/jpeg"})

    with ExitStack() as stack:
        sites = stack.enter_context(LoopbackServer(web))
        discord = stack.enter_context(FakeDiscord())
        tineye = stack.enter_context(FakeTinEye())
        tineye.serve([])
        discord.add_channel("2100", guild_id="900", name="leaks")
        store = stack.enter_context(LocalStore(workdir / "index.sqlite3"))
        client = stack.enter_context(
            ImageSearchClient(
                embedder=EfficientNetEmbedder(),
                store=store,
                fetcher=HttpFetcher(allowed_networks=LOOPBACK_NETWORKS),  # the "web" is local
            )
        )
        engines = [tineye.source()]
        sources = {"discord": discord.source(channels=["2100"])}
        client.watch([workdir / "artwork.png"], label="my artwork", sources=["discord"])
        print("Watching:", *client.watched())

        show("First check", client.check_watched(engines=engines, sources=sources))

        # The leak: a cropped copy in #leaks, and a copy on a blog that TinEye crawled.
        discord.post("2100", "free art lol", author="leaker",
                     files=[("art.jpg", jpeg_bytes(apply_edit(artwork, "crop90")))])  # fmt: skip
        files["/blog/coffee.jpg"] = jpeg_bytes(apply_edit(artwork, "resize"))
        blog_copy = sites.url + "/blog/coffee.jpg"
        tineye.serve(
            [
                tineye_match(
                    blog_copy, "https://blog.example/2026/12/coffee", crawl_date="2026-12-06"
                )
            ]
        )
        show("Second check", client.check_watched(engines=engines, sources=sources))

        # The blog takes its copy down.
        del files["/blog/coffee.jpg"]
        tineye.serve([])
        show("Third check", client.check_watched(engines=engines, sources=sources))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
