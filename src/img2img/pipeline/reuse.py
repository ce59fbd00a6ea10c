"""Never the same work twice: which candidates to skip, which bytes already have a vector.

- A candidate whose id (its URL) is stored is skipped before any download,
  unless the run re-indexes, or it is a local file whose size or modification
  time changed since it was stored (ids hash the path, not the content).
- Bytes already embedded (same sha256), in this run or an earlier one, reuse
  that vector: a new URL for a known picture costs a download, never a model call.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np

from img2img.errors import Img2ImgError, InvalidFilterError
from img2img.models import ImageCandidate, Metadata, Vector
from img2img.protocols import VectorStore
from img2img.provenance import record_id

__all__ = [
    "SKIP_CHECK_CHUNK",
    "ContentIndex",
    "file_signature",
    "new_candidates",
    "signature_fields",
]

#: Candidates looked up in the store at once (one ``fetch`` call each).
SKIP_CHECK_CHUNK = 100
#: The metadata field holding a local file's ``"size:mtime_ns"`` when it was read.
SIGNATURE_FIELD = "file_signature"


def _local_path(url: str) -> Path | None:
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: certainly not a local file's
        return None
    return Path(url2pathname(parts.path)) if parts.scheme == "file" else None


def file_signature(url: str) -> str | None:
    """``"size:mtime_ns"`` of the local file behind a ``file://`` URL; ``None`` otherwise."""
    path = _local_path(url)
    if path is None:
        return None
    try:
        status = path.stat()
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    return f"{status.st_size}:{status.st_mtime_ns}"


def _file_changed(url: str, stored: Metadata) -> bool:
    """Whether a stored local file now holds other bytes: by size and mtime, else by sha256."""
    signature = stored.get(SIGNATURE_FIELD)
    current = file_signature(url)
    if current is None:
        return False  # gone or unreadable: the download will say so if it is re-added
    if isinstance(signature, str):
        return signature != current
    path = _local_path(url)
    try:  # stored before signatures were recorded: compare the content itself
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path else None
    except (OSError, ValueError):
        return False
    return digest != stored.get("sha256")


class _Counts(Protocol):
    """What :func:`new_candidates` counts: the pipeline's run state fits."""

    discovered: int
    skipped: int


def new_candidates(
    candidates: Iterable[ImageCandidate],
    store: VectorStore,
    counts: _Counts,
    *,
    reindex: bool,
    on_discover_error: Callable[[Img2ImgError], None],
) -> Iterator[tuple[str, ImageCandidate]]:
    """Distinct candidates that need work, with their ids; counts the rest as skipped.

    Reads at most :data:`SKIP_CHECK_CHUNK` candidates ahead of what it yields.
    A source that fails after yielding some candidates ends discovery through
    ``on_discover_error``; one that fails at once raises.
    """
    seen: set[str] = set()
    chunk: list[tuple[str, ImageCandidate]] = []

    def flush() -> Iterator[tuple[str, ImageCandidate]]:
        stored = {} if reindex else store.fetch([i for i, _ in chunk])
        todo = [
            (i, c)
            for i, c in chunk
            if i not in stored or _file_changed(c.image_url, stored[i].metadata)
        ]
        counts.skipped += len(chunk) - len(todo)
        chunk.clear()
        yield from todo

    iterator = iter(candidates)
    while True:
        try:
            candidate = next(iterator)
        except StopIteration:
            break
        except Img2ImgError as exc:
            if counts.discovered == 0:
                raise
            on_discover_error(exc)
            break
        identity = record_id(candidate)
        if identity in seen:
            continue
        seen.add(identity)
        counts.discovered += 1
        chunk.append((identity, candidate))
        if len(chunk) >= SKIP_CHECK_CHUNK:
            yield from flush()
    yield from flush()


class ContentIndex:
    """Vectors by sha256 of image bytes: this run's (the latest ``capacity``), then the store's.

    The store is asked once per batch, for all the batch's digests at once,
    with a metadata filter on ``sha256``; ``consult_store=False`` skips that
    (a fresh store, or a run told to redo its work).
    """

    def __init__(
        self, store: VectorStore, dimension: int, *, consult_store: bool, capacity: int = 4096
    ) -> None:
        self._store = store
        self._dimension = dimension
        self._consult_store = consult_store
        self._capacity = capacity
        self._recent: OrderedDict[str, Vector] = OrderedDict()

    def remember(self, digest: str, vector: Vector) -> None:
        self._recent[digest] = vector
        self._recent.move_to_end(digest)
        while len(self._recent) > self._capacity:
            self._recent.popitem(last=False)

    def lookup(self, digests: Sequence[str]) -> dict[str, Vector]:
        """The known vectors among ``digests``: float32 ``(dimension,)`` each."""
        found = {d: self._recent[d] for d in digests if d in self._recent}
        wanted = sorted(set(digests) - set(found))
        if wanted and self._consult_store:
            found.update(self._from_store(wanted))
        return found

    def _from_store(self, digests: list[str]) -> dict[str, Vector]:
        probe = np.zeros(self._dimension, dtype=np.float32)
        probe[0] = 1.0  # any unit vector: the filter decides, not the score
        try:
            matches = self._store.query(
                probe, k=min(4 * len(digests), 1000), filter={"sha256": {"$in": digests}}
            )
        except InvalidFilterError:  # a store that cannot filter on sha256 only loses the reuse
            self._consult_store = False
            return {}
        ids = {m.id: str(m.metadata.get("sha256")) for m in matches}
        records = self._store.fetch(list(ids)) if ids else {}
        found: dict[str, Vector] = {}
        for stored_id, record in records.items():
            digest = ids[stored_id]
            if digest in digests and digest not in found:
                found[digest] = np.asarray(record.vector, dtype=np.float32)
                self.remember(digest, found[digest])
        return found


def signature_fields(url: str) -> dict[str, str]:
    """The metadata that lets a later run notice a local file changed (empty for URLs)."""
    signature = file_signature(url)
    return {SIGNATURE_FIELD: signature} if signature is not None else {}
