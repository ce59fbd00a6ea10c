"""The options of a watched picture's sources: kept, read back, and gone with the picture."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from img2img.watch.book import WatchBook


def test_source_options_are_kept_replaced_and_removed_with_the_picture(tmp_path: Path) -> None:
    path = tmp_path / "index.watch.sqlite3"
    with WatchBook(path) as book:
        book.add("a" * 64, b"picture", label="art", engines=(), sources=["discord"])
        assert book.source_options("a" * 64) == {}
        book.set_source_options("a" * 64, {"discord": {"channel": ("1100", "1200")}})
    with WatchBook(path) as book:  # read back from the file
        assert book.source_options("a" * 64) == {"discord": {"channel": ["1100", "1200"]}}
        book.set_source_options("a" * 64, {"discord": {"channel": ("1300",)}})
        assert book.source_options("a" * 64) == {"discord": {"channel": ["1300"]}}
        assert book.remove(["a" * 64]) == 1
        book.add("a" * 64, b"picture", label="art", engines=(), sources=["discord"])
        assert book.source_options("a" * 64) == {}  # went with the picture


def test_a_watch_list_made_before_source_options_opens_and_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.watch.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE watched (id TEXT PRIMARY KEY, label TEXT NOT NULL, picture BLOB NOT NULL,"
            " engines TEXT NOT NULL, sources TEXT NOT NULL, keyphrase TEXT NOT NULL,"
            " added_at INTEGER NOT NULL, last_checked_at INTEGER)"
        )
        db.execute(
            "INSERT INTO watched VALUES ('b', 'old', x'00', '[]', '[\"reddit\"]', '', 1, NULL)"
        )
    with WatchBook(path) as book:
        assert [p.label for p in book.pictures()] == ["old"]
        assert book.source_options("b") == {}
