"""Checks of the watch list: exactly the new, still-there and gone postings between two checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from watch_helpers import Web

from img2img import ImageCandidate, ImageSearchClient, StaticSource
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.fake_yandex import FakeYandex, yandex_image


def _watch_astronaut(
    client: ImageSearchClient, photos: dict[str, Image.Image], tmp_path: Path, **options: object
) -> Path:
    path = tmp_path / "artwork.jpg"
    path.write_bytes(jpeg_bytes(photos["astronaut"], quality=95))
    client.watch([path], **options)  # type: ignore[arg-type]
    return path


def _urls(postings: object) -> list[str]:
    return sorted(p.image_url for p in postings)  # type: ignore[attr-defined]


def test_two_checks_tell_new_still_there_and_gone(
    client: ImageSearchClient,
    web: Web,
    tineye: FakeTinEye,
    photos: dict[str, Image.Image],
    tmp_path: Path,
) -> None:
    astronaut = photos["astronaut"]
    a = web.post("/a.jpg", astronaut)
    e = web.post("/e.jpg", astronaut, "resize")
    other = web.post("/other.jpg", photos["coffee"])
    tineye.serve(
        [
            tineye_match(a, "https://blog.example/a", crawl_date="2020-02-02"),
            tineye_match(e, "https://forum.example/e"),
            tineye_match(other, "https://shop.example/coffee"),
        ]
    )
    channel = StaticSource([])
    _watch_astronaut(client, photos, tmp_path, sources=["discord"], label="my art")

    first = client.check_watched(engines=[tineye.source()], sources={"discord": channel})
    (picture,) = first.pictures
    assert _urls(picture.new) == [a, e]
    assert (picture.still_there, picture.gone) == ((), ())
    assert next(p for p in picture.new if p.image_url == a).first_seen == 1580601600

    # Between the checks: a new copy claimed by the engine, one posted on the channel, /a.jpg deleted.
    c = web.post("/c.jpg", astronaut, "crop90")
    d = web.post("/d.jpg", astronaut, "jpeg30")
    tineye.serve(
        [
            tineye_match(c, "https://new.example/c"),
            tineye_match(other, "https://shop.example/coffee"),
        ]
    )
    channel.candidates = [ImageCandidate(d, page_url="https://discord.example/channels/1/2/3")]
    del web.files["/a.jpg"]
    downloads_before = len(web.server.requests)

    second = client.check_watched(engines=[tineye.source()], sources={"discord": channel})
    (picture,) = second.pictures
    assert _urls(picture.new) == [c, d]
    assert _urls(picture.still_there) == [e]
    assert _urls(picture.gone) == [a]
    fetched = [r.path for r in web.server.requests[downloads_before:]]
    assert "/other.jpg" not in fetched  # judged at the first check: never downloaded again
    assert {p.found_by for p in picture.new} == {("tineye",), ("discord",)}

    third = client.check_watched(engines=[tineye.source()], sources={"discord": channel})
    (picture,) = third.pictures
    assert picture.new == ()
    assert _urls(picture.still_there) == [c, d, e]
    assert picture.gone == ()  # already gone: not reported again

    kept = {p.image_url: p for p in client.watched_postings("my art")}
    assert set(kept) == {a, c, d, e}
    assert kept[a].present is False
    assert kept[c].present is True


def test_the_budget_is_never_exceeded_and_what_was_skipped_is_said(
    client: ImageSearchClient,
    web: Web,
    tineye: FakeTinEye,
    photos: dict[str, Image.Image],
    tmp_path: Path,
) -> None:
    for name in ("astronaut", "coffee", "chelsea"):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(jpeg_bytes(photos[name]))
        client.watch([path])
    with FakeYandex() as yandex:
        yandex.serve([])
        check = client.check_watched(engines=[tineye.source(), yandex.source()], budget=4)
        asked = len(tineye.searches) + len(yandex.requests)
    assert check.searches == asked == 4
    assert [c.searches for c in check.pictures] == [2, 2, 0]
    assert check.skipped == (
        "chelsea.jpg: tineye skipped: budget: 1 searches needed, 0 left",
        "chelsea.jpg: yandex skipped: budget: 1 searches needed, 0 left",
    )


def test_a_failed_engine_or_source_is_reported_and_the_rest_goes_on(
    client: ImageSearchClient,
    web: Web,
    tineye: FakeTinEye,
    photos: dict[str, Image.Image],
    tmp_path: Path,
) -> None:
    a = web.post("/a.jpg", photos["astronaut"])
    _watch_astronaut(client, photos, tmp_path, sources=["feed", "missing"])

    class Broken:
        def discover(self, keyphrase: str, *, limit: int = 100) -> object:
            from img2img.errors import ServiceError

            raise ServiceError("the feed is down")

    with FakeYandex() as yandex:
        yandex.serve([yandex_image(a, "https://vk.example/1")])
        check = client.check_watched(
            engines=[tineye.source(api_key="wrong"), yandex.source()],
            sources={"feed": Broken()},  # type: ignore[dict-item]
        )
    (picture,) = check.pictures
    assert _urls(picture.new) == [a]
    assert any(p.startswith("tineye failed: TinEye refused the key") for p in picture.problems)
    assert "feed failed: the feed is down" in picture.problems
    assert "missing: no such source given" in picture.problems


def test_a_check_stopped_midway_returns_each_new_posting_once(
    client: ImageSearchClient,
    web: Web,
    tineye: FakeTinEye,
    photos: dict[str, Image.Image],
    tmp_path: Path,
) -> None:
    first_copy = web.post("/astro.jpg", photos["astronaut"])
    second_copy = web.post("/coffee.jpg", photos["coffee"])
    for name in ("astronaut", "coffee"):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(jpeg_bytes(photos[name]))
        client.watch([path], sources=["feed"])
    by_picture = {"astronaut": first_copy, "coffee": second_copy}

    class Feed:
        """Yields the copy of whichever picture is asked about; stops the run on the second."""

        def __init__(self, stop_on: int | None) -> None:
            self.calls = 0
            self.stop_on = stop_on

        def discover(self, keyphrase: str, *, limit: int = 100) -> object:
            self.calls += 1
            if self.calls == self.stop_on:
                raise KeyboardInterrupt
            return iter([ImageCandidate(by_picture[keyphrase])])

    for picture, name in zip(client.watched(), ("astronaut", "coffee"), strict=True):
        client.watch([tmp_path / f"{name}.jpg"], sources=["feed"], keyphrase=name)
        assert picture.label == f"{name}.jpg"

    with pytest.raises(KeyboardInterrupt):
        client.check_watched(engines=[], sources={"feed": Feed(stop_on=2)})
    again = client.check_watched(engines=[], sources={"feed": Feed(stop_on=None)})
    assert _urls(again.new) == sorted([first_copy, second_copy])
    once_more = client.check_watched(engines=[], sources={"feed": Feed(stop_on=None)})
    assert once_more.new == ()


def test_unwatch_and_the_list(
    client: ImageSearchClient, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    _watch_astronaut(client, photos, tmp_path, label="mine", engines=["tineye"])
    (picture,) = client.watched()
    assert (picture.label, picture.engines) == ("mine", ("tineye",))
    assert client.unwatch(["nothing"]) == 0
    assert client.unwatch([picture.id[:8]]) == 1
    assert client.watched() == []
