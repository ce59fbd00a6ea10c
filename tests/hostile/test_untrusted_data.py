"""Titles and other metadata come from strangers: they are stored as data, found as data,
and printed so that they cannot drive a terminal. The local store is private to its user."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ImageSearchClient
from img2img.cli.output import Output
from img2img.cli.tables import failures_table, match_rows, matches_table
from img2img.embedders.hashing import HashEmbedder
from img2img.models import Failure, Match, VectorRecord
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.net.retry import RetryPolicy
from img2img.stores.local.store import LocalStore
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

HOSTILE_TITLES = {
    "markup": "[link=https://evil.example]click[/link] [bold red]x",
    "sql": "'; DROP TABLE records; --",
    "html": '<img src=x onerror="alert(1)"><script>steal()</script>',
    "terminal": "\x1b]0;owned\x07\x1b[2J\x1b[31mred",
    "bidi": "photo\u202egpj.exe",
    "json": '{"$gt": 0}", "domain": "bank.example',
    "huge": "t" * 100_000,
    "nul": "before\x00after",
}
SURROGATE = "broken \ud800 text"


def _png(request: RecordedRequest) -> Reply:
    shade = sum(request.path.encode()) % 250
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), (shade, 30, 200 - shade % 200)).save(buffer, "PNG")
    return Reply(body=buffer.getvalue(), headers={"Content-Type": "image/png"})


@pytest.fixture
def indexed(tmp_path: Path) -> Iterator[tuple[ImageSearchClient, dict[str, str]]]:
    with LoopbackServer(_png) as images:
        titles = {**HOSTILE_TITLES, "surrogate": SURROGATE}
        results = [
            {
                "original": f"{images.url}/img/{name}.png",
                "link": f"https://pages.example/{name}",
                "title": title,
                "source": "pages.example",
            }
            for name, title in titles.items()
        ]
        with FakeSerpApi(results=results) as serp, LocalStore(tmp_path / "s.sqlite3") as store:
            client = ImageSearchClient(
                source=serp.source(retry=RetryPolicy(attempts=1)),
                embedder=HashEmbedder(),
                store=store,
                fetcher=HttpFetcher(allowed_networks=LOOPBACK_NETWORKS),
                batch_size=4,
            )
            urls = {name: result["original"] for name, result in zip(titles, results, strict=True)}
            yield client, urls


def test_hostile_titles_are_stored_and_found_verbatim(
    indexed: tuple[ImageSearchClient, dict[str, str]],
) -> None:
    client, urls = indexed
    report = client.index("anything")
    # The one title SQLite cannot hold as text costs that image only.
    (failure,) = report.failures
    assert (failure.url, failure.stage) == (urls["surrogate"], "store")
    assert report.indexed == len(HOSTILE_TITLES)
    probe = Image.new("RGB", (10, 10), (0, 0, 0))
    for name, title in HOSTILE_TITLES.items():
        (match,) = client.search(probe, k=10, filter={"title": title})
        assert match.title == title, name
        assert match.image_url == urls[name]
    assert client.store.count() == len(HOSTILE_TITLES)  # the SQL did not run


def test_the_command_prints_hostile_text_harmlessly() -> None:
    matches = [
        Match.from_metadata(
            name,
            0.5,
            {"title": title, "domain": title, "page_url": f"https://x.example/{title}"},
        )
        for name, title in HOSTILE_TITLES.items()
        if name != "huge"
    ]
    screen = io.StringIO()
    wide = Output(stdout=screen)
    wide.console.width = 1000  # one line a row, so each title can be found whole
    wide.show(matches_table(matches))
    shown = screen.getvalue()
    for dangerous in ("\x1b", "\x07", "\u202e", "\x00"):
        assert dangerous not in shown
    assert "\\x1b]0;owned" in shown  # shown escaped, not dropped
    assert "'; DROP TABLE records; --" in shown
    assert "[link=" in shown  # a title that looks like markup is shown, not obeyed

    as_json = io.StringIO()
    Output(as_json=True, stdout=as_json).json(match_rows(matches))
    assert "\x1b" not in as_json.getvalue()
    assert [m["title"] for m in json.loads(as_json.getvalue())] == [m.title for m in matches]

    failures = io.StringIO()
    Output(stdout=failures).show(
        failures_table([Failure("http://x.example/\x1b[2J", "fetch", "bad \x1b[31m")])
    )
    assert "\x1b" not in failures.getvalue()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_new_store_is_private_to_its_user(tmp_path: Path) -> None:
    path = tmp_path / "made" / "for" / "it" / "index.sqlite3"
    old = os.umask(0o022)  # a common default, which would leave the files world-readable
    try:
        with LocalStore(path) as store:
            store.upsert([VectorRecord("a", np.ones(4, dtype=np.float32))])  # writes the log
            made = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), *path.parents[:3]]
            for item in made:
                assert stat.S_IMODE(item.stat().st_mode) & 0o077 == 0, item
    finally:
        os.umask(old)
