"""PictureCache: what the verifier needs of stored pictures, kept locally, keyed by record id.

Vector stores hold vectors and provenance, not pixels (Pinecone cannot), yet
verifying a candidate needs its local features. This cache keeps, per record
id, a small JPEG thumbnail (written at index time, or when a candidate is first
downloaded) and the SIFT features computed from it (on first use), in one
SQLite file. A second query downloads and computes nothing.

Each store has a cache of its own by default (:func:`cache_for_store`): beside
a ``LocalStore``'s file (``index.sqlite3`` -> ``index.pictures.sqlite3``), in
memory for an ``InMemoryStore``, wherever a store's ``picture_cache_path()``
says. Ids are hashes of image URLs, so one cache given to several clients can
still serve several stores.

A row that cannot be read back (a thumbnail that no longer decodes, features
of another version) is dropped and counts as missing, so the caller downloads
the picture again; it never raises.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from img2img.closing import Closing
from img2img.errors import Img2ImgError, StoreError, StoreFormatError
from img2img.images import SNIFF_BYTES, sniff_image_type
from img2img.postings.features import (
    CONTRAST_THRESHOLD,
    FEATURE_SIDE,
    MAX_FEATURES,
    SKETCH_SIDE,
    LocalFeatures,
    extract_features,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "KEPT_AS_DOWNLOADED_BYTES",
    "THUMBNAIL_QUALITY",
    "PictureCache",
    "cache_for_store",
    "default_cache_path",
    "encode_thumbnail",
]

_log = logging.getLogger("img2img.postings")

#: JPEG quality of cached thumbnails (long side :data:`FEATURE_SIDE`): about 40-70 KB each.
THUMBNAIL_QUALITY = 90
#: A downloaded JPEG no larger than this, already within :data:`FEATURE_SIDE`,
#: is kept as it came: its own bytes decode to exactly the pixels indexed, and
#: encoding them again would cost CPU and a generation of JPEG loss to save
#: at most half of this.
KEPT_AS_DOWNLOADED_BYTES = 160_000
#: Changes whenever features computed by this version would differ from stored ones.
FEATURES_VERSION = f"sift-{FEATURE_SIDE}-{MAX_FEATURES}-{CONTRAST_THRESHOLD}-sketch{SKETCH_SIDE}-2"
# keypoints, width, height, source width, source height, sketch width, sketch height
_HEADER = struct.Struct("<IIIIIII")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pictures (
    id TEXT PRIMARY KEY,
    thumbnail BLOB,
    width INTEGER,
    height INTEGER,
    features BLOB,
    stored_at INTEGER NOT NULL
);
"""


def default_cache_path() -> Path:
    """``$IMG2IMG_HOME/pictures.sqlite3`` if set, else ``$XDG_CACHE_HOME/img2img/pictures.sqlite3``
    (``~/.cache/img2img/pictures.sqlite3``)."""
    home = os.environ.get("IMG2IMG_HOME")
    if home:
        return Path(home).expanduser() / "pictures.sqlite3"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "img2img" / "pictures.sqlite3"


def _pack(features: LocalFeatures) -> bytes:
    width, height = features.size
    source_width, source_height = features.source_size or (0, 0)
    sketch = features.sketch if features.sketch is not None else np.zeros((0, 0), np.uint8)
    raw = (
        _HEADER.pack(len(features), width, height, source_width, source_height, *sketch.shape[::-1])
        + features.points.astype("<f4").tobytes()
        + features.descriptors.astype(np.uint8).tobytes()
        + np.ascontiguousarray(sketch, np.uint8).tobytes()
    )
    return zlib.compress(raw, 1)


def _unpack(blob: bytes) -> LocalFeatures:
    raw = zlib.decompress(blob)
    count, width, height, source_width, source_height, sketch_width, sketch_height = (
        _HEADER.unpack_from(raw)
    )
    start = _HEADER.size
    points = np.frombuffer(raw, "<f4", count * 2, start).reshape(count, 2).astype(np.float32)
    start += count * 8
    descriptors = np.frombuffer(raw, np.uint8, count * 128, start).reshape(count, 128)
    start += count * 128
    pixels = sketch_width * sketch_height
    sketch = np.frombuffer(raw, np.uint8, pixels, start).reshape(sketch_height, sketch_width)
    if start + pixels != len(raw):
        raise ValueError("features blob has trailing bytes")
    source = (source_width, source_height) if source_width and source_height else None
    return LocalFeatures(
        points, descriptors.copy(), (width, height), source, sketch.copy() if pixels else None
    )


def _kept_as_downloaded(image: Image.Image, source: bytes) -> bool:
    """Whether ``source``, the bytes ``image`` was decoded from, can be the thumbnail itself."""
    original = image.info.get("original_size")
    return (
        len(source) <= KEPT_AS_DOWNLOADED_BYTES
        and original is not None
        and max(original) <= FEATURE_SIDE
        and sorted(original) == sorted(image.size)  # not shrunk when decoded
        and sniff_image_type(source[:SNIFF_BYTES]) == "jpeg"
    )


def encode_thumbnail(image: Image.Image) -> bytes:
    """``image`` shrunk to :data:`FEATURE_SIDE` on its long side, as JPEG bytes."""
    from PIL import Image

    thumbnail = image.convert("RGB")
    if max(thumbnail.size) > FEATURE_SIDE:
        thumbnail = thumbnail.copy()
        thumbnail.thumbnail((FEATURE_SIDE, FEATURE_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


class PictureCache(Closing):
    """Thumbnails and local features of stored pictures, by record id, in one SQLite file.

    ``PictureCache(path)`` opens or creates the file (and its folder);
    ``PictureCache(":memory:")`` keeps everything in memory. Thread-safe.
    Raises :class:`~img2img.errors.StoreFormatError` if ``path`` is not a cache.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = ":memory:" if path == ":memory:" else Path(path or default_cache_path())
        self._lock = threading.Lock()
        try:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con: sqlite3.Connection | None = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
            self._con.execute("PRAGMA busy_timeout = 10000")
            if isinstance(self.path, Path):
                self._con.execute("PRAGMA journal_mode = WAL")
            self._con.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise StoreFormatError(f"{self.path} is not an img2img picture cache: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot open the picture cache {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"PictureCache({str(self.path)!r})"

    def _check_version(self) -> None:
        """Forget features computed with other settings; thumbnails stay valid."""
        con = self._connection()
        row = con.execute("SELECT value FROM cache_meta WHERE key = 'features'").fetchone()
        if row is None or row[0] != FEATURES_VERSION:
            with con:
                con.execute("BEGIN IMMEDIATE")
                con.execute("UPDATE pictures SET features = NULL")
                con.execute(
                    "INSERT OR REPLACE INTO cache_meta VALUES ('features', ?)", (FEATURES_VERSION,)
                )

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            raise StoreError("the picture cache is closed")
        return self._con

    def _execute(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"picture cache {self.path}: {exc}") from exc

    def put_image(self, id: str, image: Image.Image) -> None:
        """Keep a thumbnail of ``image`` for record ``id``, replacing what was kept.

        Features are computed from it on first use. A picture that cannot be
        kept is logged and skipped.
        """
        thumbnail = self.shrink(image)
        if thumbnail is not None:
            width, height = image.info.get("original_size", image.size)
            self.keep(id, thumbnail, int(width), int(height))

    def shrink(self, image: Image.Image, source: bytes | None = None) -> bytes | None:
        """The thumbnail :meth:`keep` stores for ``image`` (``None`` if it cannot be made).

        ``source``, if given, holds the bytes ``image`` was decoded from (by
        :func:`~img2img.images.decode_image`): a JPEG already small enough is
        kept as it is rather than encoded again. The indexing pipeline calls
        this on the threads decoding images, so the JPEG encoding never holds up the model.
        """
        if source is not None and _kept_as_downloaded(image, source):
            return source
        try:
            return encode_thumbnail(image)
        except (OSError, ValueError) as exc:
            _log.warning("not caching a picture: %s", exc)
            return None

    def keep(self, id: str, picture: bytes, width: int, height: int) -> None:
        """Keep the thumbnail ``picture`` of a ``width`` x ``height`` image for record ``id``.

        The pipeline calls this for every stored record; a full disk is logged,
        never stops indexing (the picture is fetched again when needed).
        """
        try:
            self._execute(
                "INSERT OR REPLACE INTO pictures "
                "(id, thumbnail, width, height, features, stored_at) VALUES (?, ?, ?, ?, NULL, ?)",
                (id, picture, width, height, int(time.time())),
            )
        except StoreError as exc:
            _log.warning("not caching picture %s: %s", id, exc)

    def put_features(self, id: str, features: LocalFeatures, thumbnail: bytes | None) -> None:
        """Keep ``features`` (and a JPEG ``thumbnail``, when given) for record ``id``."""
        self._execute(
            "INSERT INTO pictures (id, thumbnail, width, height, features, stored_at) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET features = excluded.features, "
            "thumbnail = coalesce(excluded.thumbnail, pictures.thumbnail), "
            "width = coalesce(excluded.width, pictures.width), "
            "height = coalesce(excluded.height, pictures.height)",
            (
                id,
                thumbnail,
                *(features.source_size or (None, None)),
                _pack(features),
                int(time.time()),
            ),
        )

    def thumbnail(self, id: str) -> Image.Image | None:
        """The cached thumbnail of ``id`` as an RGB image, or ``None`` (missing or unreadable)."""
        from img2img.images import decode_image

        rows = self._execute("SELECT thumbnail FROM pictures WHERE id = ?", (id,))
        if not rows or rows[0][0] is None:
            return None
        try:
            return decode_image(bytes(rows[0][0]))
        except Img2ImgError as exc:
            _log.warning("cached thumbnail of %s is unreadable, dropping it: %s", id, exc)
            self.delete([id])
            return None

    def features(self, id: str) -> LocalFeatures | None:
        """Features of ``id``: cached, else computed from the cached thumbnail and kept;
        ``None`` when neither is here (or what is here is unreadable)."""
        rows = self._execute("SELECT features, width, height FROM pictures WHERE id = ?", (id,))
        if not rows:
            return None
        blob, width, height = rows[0]
        if blob is not None:
            try:
                return _unpack(bytes(blob))
            except (zlib.error, struct.error, ValueError) as exc:
                _log.warning("cached features of %s are unreadable, recomputing: %s", id, exc)
        image = self.thumbnail(id)
        if image is None:
            return None
        features = extract_features(image)
        if width and height:
            features = replace(features, source_size=(int(width), int(height)))
        self.put_features(id, features, None)
        return features

    def __contains__(self, id: object) -> bool:
        return isinstance(id, str) and bool(
            self._execute("SELECT 1 FROM pictures WHERE id = ?", (id,))
        )

    def count(self) -> int:
        """How many records have something cached."""
        return int(self._execute("SELECT count(*) FROM pictures")[0][0])

    def delete(self, ids: Iterable[str]) -> None:
        """Forget the given records; unknown ids are ignored."""
        for id in ids:
            self._execute("DELETE FROM pictures WHERE id = ?", (id,))

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _writable(path: Path) -> bool:
    """Whether ``path`` (or, if it is missing, its folder) may be written by this process."""
    return os.access(path if path.exists() else path.parent, os.W_OK)


def cache_for_store(store: object) -> PictureCache:
    """The default cache for ``store``: its own, never another store's.

    A store says where its cache lives with a ``picture_cache_path()`` method
    returning a path, ``":memory:"``, or a bare file name put beside
    :func:`default_cache_path` (``LocalStore``: beside its file,
    ``index.sqlite3`` -> ``index.pictures.sqlite3``; ``InMemoryStore``: in memory;
    ``PineconeStore``: one file per index and namespace). A store without one
    gets a file named after its class there.
    """
    own = getattr(store, "picture_cache_path", None)
    if callable(own):
        where = own()
        if where == ":memory:":
            return PictureCache(":memory:")
        path = Path(where)
        path = path if len(path.parts) > 1 else _beside_default(path.name)
        if getattr(store, "read_only", False) and not _writable(path):
            # A store that may not be written to: keep what this run computes in memory.
            return PictureCache(":memory:")
        return PictureCache(path)
    kind = type(store)
    return PictureCache(_beside_default(f"{kind.__module__}.{kind.__qualname__}.pictures.sqlite3"))


def _beside_default(name: str) -> Path:
    """``name`` as a file beside :func:`default_cache_path`; characters a file name
    cannot hold become ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "store.pictures.sqlite3"
    return default_cache_path().with_name(safe[:200])
