"""Where is this picture on the web? Ask Google Lens, verify every page, keep the copies. Offline.

    python examples/locate.py

Google Lens (through SerpAPI) is played by ``FakeSerpApi`` and the web by a
loopback server: a photo of a motorcycle is "posted" on several sites, as it
is (re-encoded, resized), cropped, captioned and mirrored; beside it, another
shot of the same motorcycle, a page that is gone and a page that shows an
unrelated photo. Lens claims all of them. Then:

- ``locate`` downloads each claim, verifies it against the photo, and stores
  only the copies, with where they were found;
- the claims that are not copies come back apart: ``alike`` (what Lens's
  ``similar`` search found) and ``rejected`` (with the reason);
- with Lens switched off, ``find_postings`` answers from the local index.

With a real key (``SERPAPI_API_KEY``) the same code runs against Google Lens:
drop the fakes and pass ``reverse_source=GoogleLensSource()`` (the default).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from img2img import (
    LOOPBACK_NETWORKS,
    EfficientNetEmbedder,
    HttpFetcher,
    ImageSearchClient,
    LocalStore,
)
from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


def main() -> int:
    import skimage.data

    workdir = Path(tempfile.mkdtemp(prefix="img2img-locate-"))
    left, right, _ = skimage.data.stereo_motorcycle()
    bike, same_bike = Image.fromarray(np.asarray(left)), Image.fromarray(np.asarray(right))
    bike.save(workdir / "bike.png")

    # path on the "web" -> (the page Lens names, what the page shows)
    files: dict[str, bytes] = {}
    exact = {
        "/news/bike.jpg": ("https://news.example/2024/04/bike-show", apply_edit(bike, "jpeg70")),
        "/r/bike.jpg": (
            "https://www.reddit.com/r/motorcycles/comments/b1/",
            apply_edit(bike, "resize"),
        ),
        "/pin/bike.jpg": ("https://www.pinterest.com/pin/555/", apply_edit(bike, "crop70")),
        "/memes/bike.jpg": ("https://memes.example/p/5", apply_edit(bike, "text")),
        "/gone/bike.jpg": ("https://deleted.example/post/1", None),
    }
    similar = {
        "/blog/ride.jpg": ("https://blog.example/ride", apply_edit(bike, "mirror")),
        "/shop/side.jpg": ("https://shop.example/item/42", same_bike),
        "/misc/coffee.jpg": ("https://cafe.example/menu", sample_photos(("coffee",))["coffee"]),
    }
    for path, (_, picture) in {**exact, **similar}.items():
        if picture is not None:
            files[path] = jpeg_bytes(picture)

    def web(request: RecordedRequest) -> Reply:
        if request.path not in files:
            return Reply(status=404, body=b"not found")
        return Reply(body=files[request.path], headers={"Content-Type": "image/jpeg"})

    with LoopbackServer(web) as sites, FakeSerpApi() as serp:

        def entries(pages: dict[str, tuple[str, object]]) -> list[dict[str, object]]:
            return [
                {"position": n, "title": f"post {n}", "link": page, "image": sites.url + path,
                 "date": "Apr 12, 2024"}
                for n, (path, (page, _)) in enumerate(pages.items(), start=1)
            ]  # fmt: skip

        serp.lens.serve(exact=entries(exact), visual=entries(similar))
        store = LocalStore(workdir / "index.sqlite3")
        with ImageSearchClient(
            embedder=EfficientNetEmbedder(),
            store=store,
            # The "sites" live on 127.0.0.1, which the fetcher refuses unless told.
            fetcher=HttpFetcher(allowed_networks=LOOPBACK_NETWORKS),
            reverse_source=serp.lens_source(),
        ) as client:
            found = client.locate(workdir / "bike.png", similar=True)

            print("Where is the motorcycle photo posted?")
            for posting in found:
                evidence = posting.evidence
                how = f"{evidence.inliers} keypoints agree" if evidence else "same bytes"
                mirrored = ", mirrored" if evidence and evidence.mirrored else ""
                print(
                    f"  {posting.relation:5} {posting.domain:15} {posting.page_url}  ({how}{mirrored})"
                )
            print("\nAlike, but another picture:")
            for claim in found.alike:
                print(f"  {claim.domain:15} {claim.page_url}")
            print("\nClaimed, not postings:")
            for claim in found.rejected:
                print(f"  {claim.stage:6} {claim.page_url}: {claim.reason}")
            print(f"\n{found.report}")
            print(f"Stored: {client.store.count()} records")

    # Lens and the sites are gone; the index still knows.
    with (
        LocalStore(workdir / "index.sqlite3") as store,
        ImageSearchClient(embedder=EfficientNetEmbedder(), store=store) as offline,
    ):
        postings = offline.find_postings(workdir / "bike.png")
        print(f"\nOffline, find_postings finds {len(postings)} postings:")
        for posting in postings:
            print(f"  {posting.page_url} (found by {posting.metadata.get('found_by')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
