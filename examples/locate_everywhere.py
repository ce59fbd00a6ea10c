"""One picture, five engines: Lens, TinEye, Yandex, SauceNAO and Bing asked at once. Offline.

    python examples/locate_everywhere.py

Each engine is played by its fake in ``img2img.testing`` (the real sources talk
to them over 127.0.0.1) and the web by a loopback server. The picture has been
reposted on a blog (which four engines find), on a forum (Lens only) and a
wallpaper site (Bing only); Yandex also claims another photo. ``locate``:

- asks the five engines at once, within a budget of six paid searches;
- downloads the blog's copy once although four engines name it, and stores it
  once, naming the four, with the earliest date any gives (TinEye's crawl date);
- refuses the other photo, and reports each engine's claims and cost;
- answers "who posted it first?" with ``sorted_by("oldest")``.

With real keys (``SERPAPI_API_KEY``, ``TINEYE_API_KEY``, ``YANDEX_SEARCH_API_KEY``,
``SAUCENAO_API_KEY``) leave ``engines`` out: every engine whose key is set is asked.
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
from img2img.testing.fake_saucenao import FakeSauceNao, sauce_result
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.fake_yandex import FakeYandex, yandex_image
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="img2img-engines-"))
    photos = sample_photos(("chelsea", "coffee"))
    cat = photos["chelsea"]
    files = {
        "/me/cat.jpg": jpeg_bytes(cat, quality=95),  # the picture, where its owner posted it
        "/blog/cat.jpg": jpeg_bytes(apply_edit(cat, "resize")),
        "/forum/cat.jpg": jpeg_bytes(apply_edit(cat, "crop90")),
        "/walls/cat.jpg": jpeg_bytes(apply_edit(cat, "jpeg30")),
        "/shop/mug.jpg": jpeg_bytes(photos["coffee"]),
    }

    def web(request: RecordedRequest) -> Reply:
        if request.path not in files:
            return Reply(status=404, body=b"not found")
        return Reply(body=files[request.path], headers={"Content-Type": "image/jpeg"})

    with ExitStack() as stack:
        sites = stack.enter_context(LoopbackServer(web))
        serp = stack.enter_context(FakeSerpApi())
        tineye = stack.enter_context(FakeTinEye())
        yandex = stack.enter_context(FakeYandex(per_page=10))
        sauce = stack.enter_context(FakeSauceNao(short_limit=10))
        blog = sites.url + "/blog/cat.jpg"
        serp.lens.serve(
            exact=[
                {
                    "position": 1,
                    "link": "https://blog.example/cats",
                    "image": blog,
                    "date": "Mar 1, 2021",
                },
                {
                    "position": 2,
                    "link": "https://forum.example/t/9",
                    "image": sites.url + "/forum/cat.jpg",
                },
            ],
            visual=[],
        )
        tineye.serve([tineye_match(blog, "https://blog.example/cats", crawl_date="2016-08-14")])
        yandex.serve(
            [
                yandex_image(blog, "https://blog.example/cats", title="Cats"),
                yandex_image(
                    sites.url + "/shop/mug.jpg", "https://shop.example/mug", title="A mug"
                ),
            ]
        )
        sauce.serve([sauce_result(blog, ["https://blog.example/cats"])])
        serp.reverse.serve(
            "bing_reverse_image",
            {
                "pages_including": [
                    {"link": "https://walls.example/9", "original": sites.url + "/walls/cat.jpg"}
                ]
            },
        )
        engines = [
            serp.lens_source(),
            tineye.source(),
            yandex.source(),
            sauce.source(),
            serp.bing_source(),
        ]
        store = stack.enter_context(LocalStore(workdir / "index.sqlite3"))
        client = stack.enter_context(
            ImageSearchClient(
                embedder=EfficientNetEmbedder(),
                store=store,
                fetcher=HttpFetcher(allowed_networks=LOOPBACK_NETWORKS),  # the "web" is local
            )
        )
        found = client.locate(sites.url + "/me/cat.jpg", engines=engines, max_searches=6)

        print("Where is the cat photo posted?")
        for posting in found:
            print(
                f"  {posting.relation:6} {posting.page_url:28} found by {', '.join(posting.engines)}"
            )
        print("\nEngines:")
        for e in found.report.engines:
            print(f"  {e.engine:8} claims {e.claims}, verified {e.verified}, rejected {e.rejected}, "
                  f"searches {e.searches}: {e.status}")  # fmt: skip
        gets = [r.path for r in sites.requests if r.method == "GET"]
        print(f"\nThe blog's copy was downloaded {gets.count('/blog/cat.jpg')} time(s).")
        first = found.sorted_by("oldest")[0]
        print(f"Posted first: {first.page_url} (TinEye saw it on 2016-08-14)")
        print(found.report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
