"""The watch list: watched pictures and every posting ever verified for each, in one SQLite file.

    watched   id (sha256 of the picture's bytes), label, picture (JPEG), engines, sources,
              keyphrase, added_at, last_checked_at
    postings  watch_id, posting_id, where it is, found_by, relation, first_seen, last_seen,
              present, reported
    seen      watch_id, claim_id: claims already judged, so a check downloads only what is new
    source_options  watch_id, options: each named source's options (JSON), so a check
              can build the sources again (``--channel`` of a Discord source …)

A check writes each picture's outcome in one transaction, so a check that is
killed leaves every picture either as it was or fully checked. A new posting
is written ``reported = 0`` and marked reported only once the check that
found it has returned it: a check killed in between returns it again next
time, and never twice after that.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from img2img.errors import ConfigurationError, StoreError

__all__ = ["WatchBook", "WatchedPicture", "WatchedPosting", "keep_picture"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watched (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    picture BLOB NOT NULL,
    engines TEXT NOT NULL,
    sources TEXT NOT NULL,
    keyphrase TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    last_checked_at INTEGER
);
CREATE TABLE IF NOT EXISTS postings (
    watch_id TEXT NOT NULL REFERENCES watched (id) ON DELETE CASCADE,
    posting_id TEXT NOT NULL,
    image_url TEXT,
    page_url TEXT,
    domain TEXT,
    title TEXT,
    relation TEXT NOT NULL,
    found_by TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    present INTEGER NOT NULL,
    reported INTEGER NOT NULL,
    PRIMARY KEY (watch_id, posting_id)
);
CREATE TABLE IF NOT EXISTS seen (
    watch_id TEXT NOT NULL REFERENCES watched (id) ON DELETE CASCADE,
    claim_id TEXT NOT NULL,
    PRIMARY KEY (watch_id, claim_id)
);
CREATE TABLE IF NOT EXISTS source_options (
    watch_id TEXT PRIMARY KEY REFERENCES watched (id) ON DELETE CASCADE,
    options TEXT NOT NULL
);
"""
#: The long side a watched picture is kept at: enough to verify against, small on disk.
KEPT_SIDE = 1024


def keep_picture(data: bytes) -> bytes:
    """The picture as kept in the book: its own bytes when small, else a JPEG of at most
    :data:`KEPT_SIDE` pixels a side (the sha256 that names it is of the original bytes)."""
    if len(data) <= 2_000_000:
        return data
    from img2img.images import decode_image

    image = decode_image(data)
    image.thumbnail((KEPT_SIDE, KEPT_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class WatchedPicture:
    """A picture on the watch list: what to ask about it, and when it was last checked."""

    id: str
    label: str
    engines: tuple[str, ...]
    sources: tuple[str, ...]
    keyphrase: str
    added_at: int
    last_checked_at: int | None
    postings: int = 0

    def __str__(self) -> str:
        checked = "never checked" if self.last_checked_at is None else "checked"
        return f"{self.label} ({self.id[:12]}): {self.postings} postings, {checked}"


@dataclass(frozen=True, slots=True)
class WatchedPosting:
    """A posting verified for a watched picture: where, since when, found by whom, still there."""

    posting_id: str
    image_url: str | None
    page_url: str | None
    domain: str | None
    title: str | None
    relation: str
    found_by: tuple[str, ...]
    first_seen: int
    last_seen: int
    present: bool
    reported: bool = field(default=True, repr=False)


def _posting(row: sqlite3.Row) -> WatchedPosting:
    return WatchedPosting(
        posting_id=row["posting_id"],
        image_url=row["image_url"],
        page_url=row["page_url"],
        domain=row["domain"],
        title=row["title"],
        relation=row["relation"],
        found_by=tuple(json.loads(row["found_by"])),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        present=bool(row["present"]),
        reported=bool(row["reported"]),
    )


class WatchBook:
    """The watch list of one store, kept in the SQLite file at ``path`` (``":memory:"`` for none).

    Thread-safe; several processes may share the file (SQLite's locking, WAL).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the watch list at {self.path}: {exc}") from exc
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"WatchBook({self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> WatchBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is kept, or none (a kill leaves none)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- the pictures ------------------------------------------------------

    def add(
        self,
        id: str,
        picture: bytes,
        *,
        label: str,
        engines: Sequence[str],
        sources: Sequence[str],
        keyphrase: str = "",
        now: int | None = None,
    ) -> WatchedPicture:
        """Watch a picture (its bytes' sha256 is ``id``); watching it again updates what to ask."""
        if not label.strip():
            raise ConfigurationError("a watched picture needs a label")
        moment = int(time.time()) if now is None else now
        with self.transaction() as db:
            db.execute(
                """INSERT INTO watched (id, label, picture, engines, sources, keyphrase, added_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET label = excluded.label,
                       engines = excluded.engines, sources = excluded.sources,
                       keyphrase = excluded.keyphrase""",
                (id, label, keep_picture(picture), json.dumps(list(engines)),
                 json.dumps(list(sources)), keyphrase, moment),
            )  # fmt: skip
        found = self.get(id)
        assert found is not None
        return found

    def remove(self, ids: Iterable[str]) -> int:
        """Stop watching these pictures (their postings go too); how many were watched."""
        with self.transaction() as db:
            return sum(db.execute("DELETE FROM watched WHERE id = ?", (id,)).rowcount for id in ids)

    def get(self, id: str) -> WatchedPicture | None:
        return next(iter(self._pictures("WHERE w.id = ?", (id,))), None)

    def pictures(self) -> list[WatchedPicture]:
        """Every watched picture, in the order they were added."""
        return self._pictures("", ())

    def resolve(self, given: str) -> list[str]:
        """The ids ``given`` names: an id, a prefix of one (at least 6 characters), or a label."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM watched WHERE label = ? OR id = ? OR (length(?) >= 6 AND id LIKE ? || '%')",
                (given, given, given, given),
            ).fetchall()
        return [row["id"] for row in rows]

    def picture_bytes(self, id: str) -> bytes:
        with self._lock:
            row = self._db.execute("SELECT picture FROM watched WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise ConfigurationError(f"no watched picture {id!r}")
        return bytes(row["picture"])

    def set_source_options(self, id: str, options: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep the options of each source the picture names (by source name), replacing any."""
        text = json.dumps({name: dict(values) for name, values in options.items()}, sort_keys=True)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO source_options (watch_id, options) VALUES (?, ?) "
                "ON CONFLICT (watch_id) DO UPDATE SET options = excluded.options",
                (id, text),
            )

    def source_options(self, id: str) -> dict[str, dict[str, Any]]:
        """The options kept for each source the picture names; ``{}`` when none were given."""
        with self._lock:
            row = self._db.execute(
                "SELECT options FROM source_options WHERE watch_id = ?", (id,)
            ).fetchone()
        if row is None:
            return {}
        options: dict[str, dict[str, Any]] = json.loads(row["options"])
        return options

    def _pictures(self, where: str, args: tuple[object, ...]) -> list[WatchedPicture]:
        with self._lock:
            rows = self._db.execute(
                f"""SELECT w.*, (SELECT count(*) FROM postings p WHERE p.watch_id = w.id) AS n
                    FROM watched w {where} ORDER BY w.added_at, w.rowid""",
                args,
            ).fetchall()
        return [
            WatchedPicture(
                id=row["id"],
                label=row["label"],
                engines=tuple(json.loads(row["engines"])),
                sources=tuple(json.loads(row["sources"])),
                keyphrase=row["keyphrase"],
                added_at=row["added_at"],
                last_checked_at=row["last_checked_at"],
                postings=row["n"],
            )
            for row in rows
        ]

    # -- the postings ----------------------------------------------------------

    def postings(self, watch_id: str) -> list[WatchedPosting]:
        """Every posting ever verified for the picture, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM postings WHERE watch_id = ? ORDER BY first_seen, posting_id",
                (watch_id,),
            ).fetchall()
        return [_posting(row) for row in rows]

    def seen(self, watch_id: str) -> set[str]:
        """Claims already judged for the picture (verified or not)."""
        with self._lock:
            rows = self._db.execute("SELECT claim_id FROM seen WHERE watch_id = ?", (watch_id,))
            return {row["claim_id"] for row in rows}

    def unreported(self, watch_id: str) -> list[WatchedPosting]:
        """New postings a check found and has not yet returned (it was stopped first)."""
        return [p for p in self.postings(watch_id) if not p.reported]

    def mark_reported(self, watch_id: str, posting_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE postings SET reported = 1 WHERE watch_id = ? AND posting_id = ?",
                [(watch_id, id) for id in posting_ids],
            )

    def record_check(
        self,
        watch_id: str,
        *,
        judged: Iterable[str],
        found: Sequence[WatchedPosting],
        still_there: Iterable[str],
        gone: Iterable[str],
        now: int,
    ) -> list[WatchedPosting]:
        """Write one picture's check in one transaction; the postings that are new to it.

        ``judged`` are the claims compared this time (never downloaded again),
        ``found`` the postings verified this time (new ones are added unreported;
        known ones get ``last_seen``, their engines and ``present`` again),
        ``still_there`` and ``gone`` the known postings looked at again.
        """
        known = {p.posting_id: p for p in self.postings(watch_id)}
        new: list[WatchedPosting] = []
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO seen (watch_id, claim_id) VALUES (?, ?)",
                [(watch_id, id) for id in judged],
            )
            for posting in found:
                before = known.get(posting.posting_id)
                if before is None:
                    new.append(posting)
                    db.execute(
                        """INSERT INTO postings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)""",
                        (watch_id, posting.posting_id, posting.image_url, posting.page_url,
                         posting.domain, posting.title, posting.relation,
                         json.dumps(list(posting.found_by)), posting.first_seen, now),
                    )  # fmt: skip
                    continue
                engines = list(dict.fromkeys([*before.found_by, *posting.found_by]))
                db.execute(
                    """UPDATE postings SET last_seen = ?, present = 1, found_by = ?,
                           first_seen = min(first_seen, ?)
                       WHERE watch_id = ? AND posting_id = ?""",
                    (now, json.dumps(engines), posting.first_seen, watch_id, posting.posting_id),
                )
            db.executemany(
                "UPDATE postings SET last_seen = ?, present = 1 WHERE watch_id = ? AND posting_id = ?",
                [(now, watch_id, id) for id in still_there],
            )
            db.executemany(
                "UPDATE postings SET present = 0 WHERE watch_id = ? AND posting_id = ?",
                [(watch_id, id) for id in gone],
            )
            db.execute("UPDATE watched SET last_checked_at = ? WHERE id = ?", (now, watch_id))
        return new
