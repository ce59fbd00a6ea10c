"""``img2img locate`` in its own process, against a loopback SerpAPI and loopback "sites"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from PIL import Image

from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

#: Path on the sites -> (the page Lens names, the edit of the query photo, or "other" for
#: the other view of the stereo pair).
POSTED = {
    "/a.jpg": ("https://news.example/bike", "jpeg70"),
    "/b.jpg": ("https://www.reddit.com/r/bikes/1", "resize"),
    "/c.jpg": ("https://forum.example/t/2", "crop70"),
    "/d.jpg": ("https://blog.example/side-view", "other"),
    "/e.jpg": ("https://memes.example/p/3", "text"),
}
COPY_PAGES = {page for page, edit in POSTED.values() if edit != "other"}


@dataclass
class Lookup:
    serp: FakeSerpApi
    web: LoopbackServer
    files: dict[str, bytes]
    query: Path

    def env(self) -> dict[str, str]:
        return {"SERPAPI_API_KEY": self.serp.api_key, "SERPAPI_BASE_URL": self.serp.url}


@pytest.fixture
def lookup(tmp_path: Path) -> Iterator[Lookup]:
    import skimage.data

    left, right, _ = skimage.data.stereo_motorcycle()
    bike, other = Image.fromarray(np.asarray(left)), Image.fromarray(np.asarray(right))
    files = {
        path: jpeg_bytes(
            apply_edit(other if edit == "other" else bike, "jpeg70" if edit == "other" else edit)
        )
        for path, (_, edit) in POSTED.items()
    }

    def serve(request: RecordedRequest) -> Reply:
        if request.path not in files:
            return Reply(status=404, body=b"gone")
        return Reply(body=files[request.path], headers={"Content-Type": "image/jpeg"})

    query = tmp_path / "bike.png"
    bike.save(query)
    with LoopbackServer(serve) as web, FakeSerpApi() as serp:
        serp.lens.serve(
            exact=[
                {"position": n, "link": page, "image": web.url + path, "date": "Jan 3, 2020"}
                for n, (path, (page, _)) in enumerate(POSTED.items(), start=1)
            ]
        )
        yield Lookup(serp, web, files, query)


def test_locate_stores_the_copies_and_postings_finds_them_offline(
    lookup: Lookup, store: Path, home: Path
) -> None:
    done = run_cli(
        "--store", store, "locate", lookup.query, "--json", "--allow-network", "127.0.0.0/8",
        home=home, **lookup.env(),
    )  # fmt: skip
    assert done.code == 0, done.err
    answer = done.json()
    assert {p["page_url"] for p in answer["postings"]} == COPY_PAGES
    assert all(p["relation"] == "copy" for p in answer["postings"])
    assert all(p["evidence"]["inliers"] >= 50 for p in answer["postings"])
    [other] = answer["rejected"]
    assert (other["page_url"], other["stage"], other["kind"]) == (
        "https://blog.example/side-view", "verify", "exact",
    )  # fmt: skip
    report = answer["report"]
    assert (report["searches"], report["uploads"], report["downloads"]) == (1, 1, 5)
    assert (report["verified"], report["different"], report["stored"]) == (4, 1, 4)
    assert report["failures"] == []

    lookup.serp.close()
    lookup.web.close()
    found = run_cli("--store", store, "postings", lookup.query, "--json", home=home)
    assert found.code == 0, found.err
    assert {p["page_url"] for p in found.json()["postings"]} == COPY_PAGES


def test_locate_prints_tables_and_a_gone_page_is_no_failure(
    lookup: Lookup, store: Path, home: Path
) -> None:
    # A claimed page that is gone is the web's state, not a failure of what was asked.
    del lookup.files["/e.jpg"]
    page = store.parent / "found.html"
    done = run_cli(
        "--store", store, "locate", lookup.query, "--allow-network", "127.0.0.0/8", "--no-index",
        "--html", page, home=home, **lookup.env(),
    )  # fmt: skip
    assert done.code == 0, done.err
    html = page.read_text(encoding="utf-8")  # the same answer, as a page to look at
    assert html.count('<article class="posting">') == 3
    assert "claimed, not postings: " in html
    assert "404" in html
    assert "3 postings, verified: 3 copy" in done.out
    assert "news.example" in done.out
    assert "claimed, not postings" in done.out
    assert "404" in done.out
    assert "1 search, 1 upload, 5 downloads" in done.out
    listed = run_cli("--store", store, "list", "--all", "--json", home=home)
    assert listed.json() == []  # --no-index stored nothing


def test_locate_without_a_key_is_one_line_and_exit_1(store: Path, home: Path) -> None:
    done = run_cli("--store", store, "locate", "photo.jpg", home=home)
    assert done.code == 1
    assert done.err == (
        "img2img: error: locate asks Google Lens through SerpAPI: set SERPAPI_API_KEY "
        "(your key is at https://serpapi.com/manage-api-key)\n"
    )


def test_locate_with_a_refused_upload_is_one_clear_line(
    lookup: Lookup, store: Path, home: Path
) -> None:
    lookup.serp.lens.refuse_uploads()
    done = run_cli("--store", store, "-q", "locate", lookup.query, home=home, **lookup.env())
    assert done.code == 1
    assert done.err.startswith("img2img: error: SerpAPI refused the image upload (HTTP 403)")
    assert len(done.err.strip().splitlines()) == 1


def test_locate_shows_a_mockup_and_a_collage_with_their_relation_fit_and_place(
    lookup: Lookup, store: Path, home: Path
) -> None:
    from img2img.testing.photos import sample_photos
    from img2img.testing.reposts import apply_repost

    bike = Image.open(lookup.query).convert("RGB")
    others = list(sample_photos(("astronaut", "chelsea", "coffee")).values())
    lookup.files["/mockup.jpg"] = jpeg_bytes(apply_repost(bike, "perspective12", others=others))
    lookup.files["/collage.jpg"] = jpeg_bytes(apply_repost(bike, "collage2x2", others=others))
    lookup.files["/astronaut.jpg"] = jpeg_bytes(others[0])
    lookup.serp.lens.serve(
        exact=[
            {"position": 1, "link": "https://shop.example/mockup", "image": lookup.web.url + "/mockup.jpg"},
            {"position": 2, "link": "https://blog.example/grid", "image": lookup.web.url + "/collage.jpg"},
            {"position": 3, "link": "https://space.example/", "image": lookup.web.url + "/astronaut.jpg"},
        ]
    )  # fmt: skip
    asked = ("--store", store, "locate", lookup.query, "--allow-network", "127.0.0.0/8")
    done = run_cli(*asked, "--no-index", "--json", home=home, **lookup.env())
    assert done.code == 0, done.err
    answer = done.json()
    postings = {p["page_url"]: p for p in answer["postings"]}
    assert set(postings) == {"https://shop.example/mockup", "https://blog.example/grid"}
    mockup = postings["https://shop.example/mockup"]
    assert (mockup["relation"], mockup["evidence"]["model"]) == ("warped", "perspective")
    assert len(mockup["evidence"]["corner_fractions"]) == 4
    grid = postings["https://blog.example/grid"]
    assert grid["relation"] in ("copy", "contains", "part")
    left, top, right, bottom = grid["evidence"]["box"]
    assert 0.3 < (right - left) * (bottom - top) < 0.6  # a quarter of the grid, the tile cropped
    assert [c["page_url"] for c in answer["rejected"]] == ["https://space.example/"]

    shown = run_cli(*asked, "--no-index", home=home, **lookup.env())
    assert shown.code == 0, shown.err
    row = next(line for line in shown.out.splitlines() if "shop.example" in line)
    assert "warped" in row
    assert "perspective fit" in row
    assert "% across" in row
    title = next(line for line in shown.out.splitlines() if "postings, verified" in line)
    assert title.startswith("2 postings, verified: ")
    assert "1 warped" in title
