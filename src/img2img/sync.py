"""Keeping a store in step with a folder, decided by the files' content.

A sync compares the image files under a folder with the store's records of
files under that folder (``file://`` image URLs) and sorts every file into one
of these:

- **unchanged**: a record exists for its path and its content is the same;
- **changed**: a record exists for its path but the bytes differ: embed again;
- **moved**: no record for its path, but a record under the folder holds the
  same bytes (sha256): a renamed or copied file. The stored vector is reused
  under the new path; nothing is decoded or embedded;
- **new**: embed it;

and every record whose file is gone is **deleted**. Reading every byte of a
large photo folder on each sync would be slow, so a file whose size and
modification time equal those recorded with it (``file_size``, ``file_mtime``,
see :func:`~img2img.sources.folder.candidate_for_path`) counts as unchanged
without being read; ``checksum=True`` reads every file regardless, as rsync's
``--checksum`` does. A file that was touched but not changed keeps its vector
and gets its new size and time recorded.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.errors import ConfigurationError
from img2img.models import Failure, ImageCandidate, IndexReport, MetadataValue, VectorRecord
from img2img.postings.region_records import REGION_OF
from img2img.protocols import VectorStore
from img2img.provenance import record_id
from img2img.sources.folder import FolderSource, candidate_for_path

__all__ = ["SyncPlan", "SyncReport", "path_of", "plan_sync", "rewrite_records", "sync_report"]

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class _Stored:
    """What a sync needs to know of one record of a local file."""

    id: str
    sha256: str | None
    size: object
    mtime: object


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What a sync will do; built by :func:`plan_sync`, nothing done yet.

    ``embed`` holds new files then changed ones (``changed`` of them replace a
    record); ``rewrites`` pairs the id of a record whose vector is reused with
    the candidate for the file that takes it (moved, copied or touched files);
    ``delete`` lists the ids of records whose file is gone, ``removed`` of
    which were not moved elsewhere.
    """

    root: Path
    embed: list[ImageCandidate] = field(default_factory=list)
    changed: int = 0
    rewrites: list[tuple[str, ImageCandidate]] = field(default_factory=list)
    moved: int = 0
    delete: list[str] = field(default_factory=list)
    removed: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one ``sync`` call did.

    Every image file under the folder is counted once in ``added``,
    ``updated`` (re-embedded after its content changed), ``moved`` (renamed or
    copied: the stored vector was reused), ``unchanged`` or ``failures``;
    ``deleted`` counts records removed because their file is gone (not moved).
    """

    folder: str
    added: int
    updated: int
    moved: int
    unchanged: int
    deleted: int
    failures: tuple[Failure, ...]
    elapsed_seconds: float

    @property
    def failed(self) -> int:
        return len(self.failures)

    def __str__(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, moved {self.moved}, "
            f"deleted {self.deleted}, unchanged {self.unchanged}, failed {self.failed} "
            f"in {self.elapsed_seconds:.1f}s"
        )


def _sha256_of(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None  # unreadable: embedding it will fail and report why
    return digest.hexdigest()


def _stored_under(store: VectorStore, root: Path, batch_size: int) -> dict[str, _Stored]:
    """The store's records of files under ``root``, by id."""
    prefix = root.as_uri().rstrip("/") + "/"
    found: dict[str, _Stored] = {}
    for page in store.scan(batch_size=batch_size):
        for record in page:
            url = record.metadata.get("image_url")
            if isinstance(url, str) and url.startswith(prefix):
                sha = record.metadata.get("sha256")
                found[record.id] = _Stored(
                    record.id,
                    sha if isinstance(sha, str) else None,
                    record.metadata.get("file_size"),
                    record.metadata.get("file_mtime"),
                )
    return found


def _same_stat(stored: _Stored, candidate: ImageCandidate) -> bool:
    size, mtime = candidate.extra.get("file_size"), candidate.extra.get("file_mtime")
    return size is not None and stored.size == size and stored.mtime == mtime


def plan_sync(
    folder: str | os.PathLike[str],
    store: VectorStore,
    *,
    checksum: bool = False,
    batch_size: int = 1000,
) -> SyncPlan:
    """Compare the image files under ``folder`` with the store's records of them.

    Reads the whole store once (``store.scan``) and, unless ``checksum``,
    only the files whose size or modification time changed, plus new files
    that may be renamed copies of stored ones. Writes nothing.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ConfigurationError(f"sync needs a folder; {root} is not one")
    known = _Known(_stored_under(store, root, batch_size))
    new: list[ImageCandidate] = []
    changed: list[ImageCandidate] = []
    rewrites: list[tuple[str, ImageCandidate]] = []
    unchanged = moved = 0
    present: set[str] = set()
    for path in FolderSource(root).paths():
        candidate = candidate_for_path(path)
        identity = record_id(candidate)
        present.add(identity)
        verdict, source = known.judge(identity, candidate, checksum=checksum)
        if verdict == "unchanged":
            unchanged += 1
        elif verdict == "touched":
            unchanged += 1
            rewrites.append((identity, candidate))  # record the new size and time
        elif verdict == "changed":
            changed.append(candidate)
        elif verdict == "moved" and source is not None:
            moved += 1
            rewrites.append((source, candidate))
        else:
            new.append(candidate)
    gone = [identity for identity in known.records if identity not in present]
    moved_away = {source for source, _ in rewrites} & set(gone)
    return SyncPlan(
        root=root,
        embed=new + changed,
        changed=len(changed),
        rewrites=rewrites,
        moved=moved,
        delete=gone,
        removed=len(gone) - len(moved_away),
        unchanged=unchanged,
    )


class _Known:
    """The stored records of a folder's files, looked up by id and by content."""

    def __init__(self, records: dict[str, _Stored]) -> None:
        self.records = records
        self._by_sha: dict[str, str] = {}
        for record in records.values():
            if record.sha256 is not None:
                self._by_sha.setdefault(record.sha256, record.id)
        self._sizes = {record.size for record in records.values()}

    def judge(
        self, identity: str, candidate: ImageCandidate, *, checksum: bool
    ) -> tuple[Literal["unchanged", "touched", "changed", "moved", "new"], str | None]:
        """What became of one file, and for a moved one the id of the record it matches."""
        record = self.records.get(identity)
        if record is not None:
            if not checksum and _same_stat(record, candidate):
                return "unchanged", None
            sha = _sha256_of(path_of(candidate))
            if sha is not None and sha == record.sha256:
                return "touched", None
            return "changed", None
        # Hash a new file only when a stored one could hold the same bytes.
        size = candidate.extra.get("file_size")
        if not self._by_sha or (size not in self._sizes and None not in self._sizes):
            return "new", None
        sha = _sha256_of(path_of(candidate))
        source = self._by_sha.get(sha) if sha is not None else None
        return ("moved", source) if source is not None else ("new", None)


def path_of(candidate: ImageCandidate) -> Path:
    """The local path of a ``file://`` candidate."""
    return Path(url2pathname(urlsplit(candidate.image_url).path))


def _moved_metadata(old: VectorRecord, candidate: ImageCandidate) -> dict[str, MetadataValue]:
    """The old record's provenance, with where the file now is."""
    metadata: dict[str, MetadataValue] = {**old.metadata, **candidate.extra}
    metadata.update(
        image_url=candidate.image_url,
        page_url=candidate.page_url or candidate.image_url,
        domain=candidate.domain or "localhost",
    )
    if candidate.title is not None:
        metadata["title"] = candidate.title
    return metadata


def rewrite_records(
    store: VectorStore, rewrites: Sequence[tuple[str, ImageCandidate]], *, batch_size: int = 500
) -> int:
    """Give each candidate of ``rewrites`` the vector of the record whose id it is paired
    with, under the candidate's own id; returns how many records were written.

    A source record that vanished meanwhile is skipped; its file is then
    neither moved nor embedded until the next sync.
    """
    written = 0
    for start in range(0, len(rewrites), batch_size):
        chunk = rewrites[start : start + batch_size]
        sources = store.fetch(sorted({source for source, _ in chunk}))
        records = [
            VectorRecord(
                id=record_id(candidate),
                vector=sources[source].vector,
                metadata=_moved_metadata(sources[source], candidate),
            )
            for source, candidate in chunk
            if source in sources
        ]
        if records:
            store.upsert(records)
        written += len(records)
    return written


def sync_report(plan: SyncPlan, embedded: IndexReport, started: float) -> SyncReport:
    """Sum up a sync from its plan and the report of the embedding run."""
    failed_urls = {failure.url for failure in embedded.failures}
    new = plan.embed[: len(plan.embed) - plan.changed]
    return SyncReport(
        folder=str(plan.root),
        added=sum(1 for c in new if c.image_url not in failed_urls),
        updated=sum(1 for c in plan.embed[len(new) :] if c.image_url not in failed_urls),
        moved=plan.moved,
        unchanged=plan.unchanged,
        deleted=plan.removed,
        failures=embedded.failures,
        elapsed_seconds=time.perf_counter() - started,
    )


def sync_folder(
    folder: Path,
    store: VectorStore,
    embed: Callable[[Sequence[ImageCandidate]], IndexReport],
    *,
    checksum: bool = False,
) -> SyncReport:
    """Bring ``store`` in step with ``folder``: records of moved files rewritten, those of
    files that are gone deleted, new and changed files handed to ``embed`` (the index
    pipeline, writing to ``store``)."""
    started = time.perf_counter()
    plan = plan_sync(folder, store, checksum=checksum)
    rewrite_records(store, plan.rewrites)
    if plan.delete:
        store.delete(plan.delete)
        # A composite's regions go with it (see img2img.postings.region_records).
        store.delete(filter={REGION_OF: {"$in": list(plan.delete)}})
    return sync_report(plan, embed(plan.embed), started)
