"""The HTML report of a watch check: each picture on top, its new postings first and marked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.photos import sample_photos
from img2img.watch.book import WatchedPicture, WatchedPosting
from img2img.watch.check import PictureCheck, WatchCheck

from .conftest import HOSTILE_TITLE

DAY = 1_700_000_000


def _posting(name: str, image_url: str, page: str, *, title: str = "") -> WatchedPosting:
    return WatchedPosting(
        posting_id=name,
        image_url=image_url,
        page_url=page,
        domain=page.split("/")[2],
        title=title or name,
        relation="copy",
        found_by=("tineye",),
        first_seen=DAY,
        last_seen=DAY + 86_400,
        present=True,
    )


@pytest.fixture(scope="module")
def watch_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two watched pictures: one with a new, a still-there (no picture at hand) and a
    gone posting, one with nothing yet; a label and a title that try to run script."""
    from img2img.report.watch import write_watch_html

    folder = tmp_path_factory.mktemp("watch-report")
    photos = sample_photos(("astronaut", "coffee"))

    def posted(name: str, photo: Image.Image) -> str:
        path = folder / name
        path.write_bytes(jpeg_bytes(apply_edit(photo, "jpeg70")))
        return path.resolve().as_uri()

    art = WatchedPicture("a" * 64, HOSTILE_TITLE, ("tineye",), (), "", DAY, DAY)
    coffee = WatchedPicture("c" * 64, "coffee", (), ("discord",), "", DAY, None)
    new = _posting("new", posted("new.jpg", photos["astronaut"]), "https://leak.example/new")
    still = _posting("still", "https://cdn.example/still.jpg", "https://blog.example/still")
    gone = _posting("gone", posted("gone.jpg", photos["astronaut"]), "https://gone.example/p")
    check = WatchCheck(
        (
            PictureCheck(art, new=(new,), still_there=(still,), gone=(gone,), searches=1),
            PictureCheck(coffee, problems=("discord failed: HTTP 403",)),
        ),
        searches=1,
    )
    kept = {art.id: jpeg_bytes(photos["astronaut"]), coffee.id: jpeg_bytes(photos["coffee"])}
    return write_watch_html(check, folder / "watch.html", pictures=kept.get)


def test_each_picture_then_new_marked_then_still_there_then_gone_folded(watch_page: Path) -> None:
    html = watch_page.read_text(encoding="utf-8")
    order = [
        html.index(text)
        for text in (
            'class="watched"',
            'class="posting new"',
            "https://blog.example/still",
            '<details class="folded-group">',
            "https://gone.example/p",
            "no postings found yet",
        )
    ]
    assert order == sorted(order)
    assert '<p class="mark new">new</p>' in html
    assert "discord failed: HTTP 403" in html
    assert "<script>window.pwned" not in html  # the hostile label is text
    assert "no picture at hand" in html  # the posting on the web: an empty frame


def test_chromium_decodes_every_thumbnail_of_a_watch_report(watch_page: Path) -> None:
    from .browser import inspect_page

    seen = inspect_page(watch_page)
    assert seen["pwned"] is None
    assert seen["scripts"] == 1
    assert len(seen["images"]) == 4  # two watched pictures, the new and the gone posting
    assert all(i["complete"] and i["width"] > 0 for i in seen["images"]), seen["images"]
    assert HOSTILE_TITLE in seen["titles"]
    assert "https://leak.example/new" in seen["links"]
