"""A ``watch check`` killed with SIGKILL part-way: the rerun reports each new posting once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import cli_env, run_cli
from PIL import Image
from test_watch_cli import LOOPBACK, Scene
from test_watch_cli import photos as photos  # the module's fixtures, shared
from test_watch_cli import scene as scene

from img2img.testing.fake_tineye import tineye_match
from img2img.testing.service import Stall


def _posted_so_far(watch_file: Path) -> int:
    if not watch_file.exists():
        return 0
    with sqlite3.connect(f"file:{watch_file}?mode=ro", uri=True) as db:
        try:
            return int(db.execute("SELECT count(*) FROM postings").fetchone()[0])
        except sqlite3.OperationalError:  # the tables are not made yet
            return 0


def test_a_killed_check_leaves_a_consistent_list_and_the_rerun_reports_each_posting_once(
    scene: Scene, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    coffee = tmp_path / "coffee.jpg"
    photos["coffee"].save(coffee, quality=95)
    for path, label in ((scene.artwork, "astronaut"), (coffee, "coffee")):
        added = scene.run("add", path, "--label", label, "--engine", "tineye")
        assert added.code == 0, added.err
    astronaut_copy = scene.post("/a.jpg", photos["astronaut"], "resize")
    coffee_copy = scene.post("/c.jpg", photos["coffee"], "resize")
    scene.tineye.serve(
        [
            tineye_match(astronaut_copy, "https://blog.example/astronaut"),
            tineye_match(coffee_copy, "https://blog.example/coffee"),
        ]
    )
    # The first picture's search answers at once; the second's hangs until the kill.
    scene.tineye.queue(Stall(0.0), Stall(60.0), path="/rest/search/")
    keys = {"TINEYE_API_KEY": scene.tineye.api_key, "TINEYE_BASE_URL": scene.tineye.base_url}
    check = subprocess.Popen(
        [sys.executable, "-m", "img2img", "--store", str(scene.store), "watch", "check", *LOOPBACK],
        env=cli_env(scene.home, **keys),
        cwd=scene.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watch_file = scene.store.with_name("index.watch.sqlite3")
    deadline = time.monotonic() + 120
    while _posted_so_far(watch_file) == 0 and time.monotonic() < deadline:
        assert check.poll() is None, check.communicate()
        time.sleep(0.1)
    assert _posted_so_far(watch_file) == 1  # the first picture's check is written
    check.send_signal(signal.SIGKILL)
    out, _ = check.communicate(timeout=30)
    assert b"blog.example/astronaut" not in out  # killed before it could say anything

    rerun = scene.run("check", "--json", *LOOPBACK)
    assert rerun.code == 10, rerun.err
    new = {p["page_url"] for picture in rerun.json()["pictures"] for p in picture["new"]}
    assert new == {"https://blog.example/astronaut", "https://blog.example/coffee"}

    again = run_cli(
        "--store", scene.store, "watch", "check", *LOOPBACK, home=scene.home, **keys
    )  # fmt: skip
    assert (again.code, again.out) == (0, "")  # each new posting was reported once
