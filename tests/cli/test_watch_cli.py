"""``img2img watch`` in its own process, against a loopback TinEye, Discord, web and webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_helpers import Run, run_cli
from PIL import Image

from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.fake_discord import FakeDiscord
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos

LOOPBACK = ("--allow-network", "127.0.0.0/8")


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return sample_photos(("astronaut", "coffee", "chelsea"))


@dataclass
class Scene:
    """A store, a home, the artwork, the web it may be posted on, and a TinEye."""

    store: Path
    home: Path
    artwork: Path
    tineye: FakeTinEye
    web: LoopbackServer
    files: dict[str, bytes] = field(default_factory=dict)

    def post(self, path: str, photo: Image.Image, edit: str = "jpeg70") -> str:
        self.files[path] = jpeg_bytes(apply_edit(photo, edit))
        return self.web.url + path

    def run(self, *args: str | Path, **env: str) -> Run:
        keys = {"TINEYE_API_KEY": self.tineye.api_key, "TINEYE_BASE_URL": self.tineye.base_url}
        return run_cli("--store", self.store, "watch", *args, home=self.home, **{**keys, **env})


@pytest.fixture
def scene(
    store: Path, home: Path, tmp_path: Path, photos: dict[str, Image.Image]
) -> Iterator[Scene]:
    holder: list[Scene] = []

    def serve(request: RecordedRequest) -> Reply:
        data = holder[0].files.get(request.path)
        if data is None:
            return Reply(status=404, body=b"not found")
        return Reply(body=data, headers={"Content-Type": "image/jpeg"})

    artwork = tmp_path / "artwork.jpg"
    artwork.write_bytes(jpeg_bytes(photos["astronaut"], quality=95))
    with LoopbackServer(serve) as web, FakeTinEye() as tineye:
        tineye.serve([])
        holder.append(Scene(store, home, artwork, tineye, web))
        yield holder[0]


@dataclass
class Receiver:
    server: LoopbackServer
    status: int = 204

    @property
    def url(self) -> str:
        return self.server.url + "/hook"

    def posts(self) -> list[dict[str, object]]:
        return [json.loads(r.body) for r in self.server.requests if r.method == "POST"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    def answer(request: RecordedRequest) -> Reply:
        return Reply(status=holder[0].status, body=b"")

    with LoopbackServer(answer) as server:
        holder.append(Receiver(server))
        yield holder[0]


def test_quiet_when_nothing_is_new_exit_10_with_the_postings_when_something_is(
    scene: Scene, photos: dict[str, Image.Image]
) -> None:
    added = scene.run("add", scene.artwork, "--label", "my art", "--engine", "tineye")
    assert added.code == 0, added.err

    quiet = scene.run("check", *LOOPBACK)
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")  # cron mails nothing

    a = scene.post("/a.jpg", photos["astronaut"])
    b = scene.post("/b.jpg", photos["astronaut"], "resize")
    other = scene.post("/other.jpg", photos["coffee"])
    scene.tineye.serve(
        [
            tineye_match(a, "https://blog.example/a"),
            tineye_match(b, "https://forum.example/b"),
            tineye_match(other, "https://shop.example/coffee"),
        ]
    )
    found = scene.run("check", *LOOPBACK)
    assert found.code == 10, found.err
    rows = [line for line in found.out.splitlines() if line.startswith("new")]
    assert len(rows) == 2  # piped: one row a line
    assert any("https://blog.example/a" in row and "my art" in row for row in rows)
    assert any("https://forum.example/b" in row for row in rows)
    assert "shop.example" not in found.out  # another picture: not a posting

    again = scene.run("check", *LOOPBACK)
    assert (again.code, again.out) == (0, ""), again.err  # still there: nothing to say

    del scene.files["/a.jpg"]
    scene.tineye.serve([])
    gone = scene.run("check", *LOOPBACK, "--json")
    assert gone.code == 10, gone.err
    (picture,) = gone.json()["pictures"]
    assert [p["page_url"] for p in picture["gone"]] == ["https://blog.example/a"]
    assert [p["page_url"] for p in picture["still_there"]] == ["https://forum.example/b"]
    assert picture["new"] == []
    assert picture["label"] == "my art"
    assert set(picture) >= {"unchecked", "problems", "searches"}


def test_one_webhook_post_with_the_new_postings_and_none_when_nothing_is_new(
    scene: Scene, receiver: Receiver, photos: dict[str, Image.Image]
) -> None:
    assert scene.run("add", scene.artwork, "--label", "my art").code == 0
    a = scene.post("/a.jpg", photos["astronaut"])
    scene.tineye.serve([tineye_match(a, "https://blog.example/a")])
    notify = ("--notify", receiver.url, *LOOPBACK)

    found = scene.run("check", *notify)
    assert found.code == 10, found.err
    (body,) = receiver.posts()
    assert [p["page_url"] for p in body["new"]] == ["https://blog.example/a"]  # type: ignore[union-attr,index]
    assert "my art" in str(body["content"])

    quiet = scene.run("check", *notify)
    assert (quiet.code, quiet.out) == (0, "")
    assert len(receiver.posts()) == 1  # nothing new: nobody told


def test_a_webhook_that_fails_is_reported_exit_3_and_the_check_is_kept(
    scene: Scene, receiver: Receiver, photos: dict[str, Image.Image]
) -> None:
    assert scene.run("add", scene.artwork).code == 0
    a = scene.post("/a.jpg", photos["astronaut"])
    scene.tineye.serve([tineye_match(a, "https://blog.example/a")])
    receiver.status = 500
    failed = scene.run("check", "--notify", receiver.url, *LOOPBACK)
    assert failed.code == 3
    assert "webhook" in failed.err
    assert "500" in failed.err
    assert "https://blog.example/a" in failed.out  # the postings are still shown
    listed = scene.run("list", "--json").json()
    assert listed[0]["postings"] == 1  # and kept

    refused = scene.run("check", "--notify", "http://127.0.0.1:9/hook")  # loopback not allowed
    assert refused.code == 0  # nothing new: nothing sent, nothing refused


def test_the_budget_is_never_exceeded(
    scene: Scene, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    paths = []
    for name in ("astronaut", "coffee", "chelsea"):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(jpeg_bytes(photos[name]))
        paths.append(path)
    assert scene.run("add", *paths, "--engine", "tineye").code == 0
    done = scene.run("check", "--budget", "2", "--json", *LOOPBACK)
    assert done.code == 0, done.err
    answer = done.json()
    assert len(scene.tineye.searches) == answer["searches"] == 2
    assert answer["max_searches"] == 2
    assert answer["skipped"] == ["chelsea.jpg: tineye skipped: budget: 1 searches needed, 0 left"]
    assert scene.run("check", "--budget", "-1").code == 2


def test_a_failed_engine_with_nothing_new_exits_3(scene: Scene) -> None:
    assert scene.run("add", scene.artwork, "--engine", "tineye").code == 0
    done = scene.run("check", *LOOPBACK, TINEYE_API_KEY="")
    assert done.code == 3
    assert done.out == ""
    assert "tineye" in done.err


def test_a_check_that_can_ask_nothing_says_so_and_exits_3(scene: Scene) -> None:
    assert scene.run("add", scene.artwork).code == 0
    done = scene.run("check", TINEYE_API_KEY="")
    assert done.code == 3
    assert "no engine to ask" in done.err


def test_html_report_shows_what_is_new(
    scene: Scene, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    assert scene.run("add", scene.artwork, "--label", "my <b>art</b>").code == 0
    a = scene.post("/a.jpg", photos["astronaut"])
    scene.tineye.serve([tineye_match(a, "https://blog.example/a")])
    report = tmp_path / "watch.html"
    done = scene.run("check", "--html", report, *LOOPBACK)
    assert done.code == 10, done.err
    html = report.read_text(encoding="utf-8")
    assert 'class="posting new"' in html
    assert "https://blog.example/a" in html
    assert "my &lt;b&gt;art&lt;/b&gt;" in html
    assert "<b>art</b>" not in html
    assert html.count("data:image/jpeg;base64,") == 2  # the watched picture and the posting


def test_a_source_is_read_again_with_the_options_it_was_added_with(
    scene: Scene, photos: dict[str, Image.Image]
) -> None:
    with FakeDiscord() as discord:
        discord.add_channel("1100", guild_id="900", name="fan-art")
        discord.add_channel("1200", guild_id="900", name="other")
        env = {"DISCORD_BASE_URL": discord.api_url, "DISCORD_BOT_TOKEN": discord.token}
        added = scene.run(
            "add", scene.artwork, "--label", "art", "--source", "discord", "--channel", "1100",
            **env,
        )  # fmt: skip
        assert added.code == 0, added.err
        assert scene.run("check", *LOOPBACK, **env).code == 0
        leak = jpeg_bytes(apply_edit(photos["astronaut"], "jpeg70"))
        discord.post("1200", "elsewhere", files=[("leak.jpg", leak)])
        assert scene.run("check", *LOOPBACK, **env).out == ""  # not the channel watched
        discord.post("1100", "leaked!", files=[("leak.jpg", leak)])
        found = scene.run("check", "--json", *LOOPBACK, **env)
    assert found.code == 10, found.err
    (picture,) = found.json()["pictures"]
    assert [p["found_by"] for p in picture["new"]] == [["discord"]]
    assert "/1100/" in picture["new"][0]["page_url"]


def test_list_and_remove(scene: Scene) -> None:
    assert scene.run("add", scene.artwork, "--label", "my art").code == 0
    listed = scene.run("list")
    assert "my art" in listed.out
    assert "never" in listed.out
    assert scene.run("remove", "nothing-like-it").code == 1
    removed = scene.run("remove", "my art")
    assert removed.code == 0
    assert "stopped watching 1 pictures" in removed.out
    assert scene.run("list", "--json").json() == []
    assert scene.run("add", scene.artwork, "--engine", "no-such-engine").code == 2
    assert scene.run("add", scene.artwork, "--channel", "1100").code == 2


def test_a_report_or_webhook_that_cannot_be_is_refused_before_the_check(
    scene: Scene, tmp_path: Path
) -> None:
    assert scene.run("add", scene.artwork, "--engine", "tineye").code == 0
    assert scene.run("check", "--html", tmp_path).code == 2
    assert scene.run("check", "--notify", "ftp://example.com/hook").code == 2
    assert scene.tineye.searches == []  # nothing was spent


def test_one_budget_across_pictures_reading_different_channels(
    scene: Scene, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    coffee = tmp_path / "coffee.jpg"
    coffee.write_bytes(jpeg_bytes(photos["coffee"]))
    with FakeDiscord() as discord:
        discord.add_channel("1100", guild_id="900", name="fan-art")
        discord.add_channel("1200", guild_id="900", name="other")
        env = {"DISCORD_BASE_URL": discord.api_url, "DISCORD_BOT_TOKEN": discord.token}
        for picture, channel in ((scene.artwork, "1100"), (coffee, "1200")):
            added = scene.run(
                "add", picture, "--engine", "tineye", "--source", "discord", "--channel", channel,
                **env,
            )  # fmt: skip
            assert added.code == 0, added.err
        done = scene.run("check", "--budget", "1", "--json", *LOOPBACK, **env)
    assert done.code == 0, done.err
    answer = done.json()
    assert len(scene.tineye.searches) == answer["searches"] == 1
    assert [p["searches"] for p in answer["pictures"]] == [1, 0]
    assert answer["skipped"] == ["coffee.jpg: tineye skipped: budget: 1 searches needed, 0 left"]
