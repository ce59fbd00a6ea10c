"""``--store``: a LocalStore file, or ``pinecone://INDEX[/NAMESPACE]``.

Commands that write (``add``, ``index``, ``sync``) create a missing store and
say where; commands that only read refuse a store that does not exist, so a
typo in ``--store`` is an error rather than a new, empty store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from img2img.errors import ConfigurationError

if TYPE_CHECKING:
    from img2img.cli.output import Output
    from img2img.protocols import VectorStore

__all__ = ["PINECONE_SCHEME", "StoreSpec", "open_store", "parse_store"]

PINECONE_SCHEME = "pinecone://"


@dataclass(frozen=True)
class StoreSpec:
    """Where the vectors are: a local file (``path``) or a Pinecone ``index`` and ``namespace``."""

    kind: Literal["local", "pinecone"]
    path: Path | None = None
    index: str | None = None
    namespace: str = ""

    def __str__(self) -> str:
        if self.kind == "local":
            return str(self.path)
        return f"{PINECONE_SCHEME}{self.index}" + (f"/{self.namespace}" if self.namespace else "")

    def exists(self) -> bool:
        """For a local store, whether its file exists; a Pinecone index is checked when used."""
        return self.kind == "pinecone" or (self.path is not None and self.path.exists())

    def size_bytes(self) -> int | None:
        """Bytes the local store takes on disk, its journal included; ``None`` for Pinecone."""
        if self.kind != "local" or self.path is None:
            return None
        files = [self.path, *(Path(f"{self.path}{end}") for end in ("-wal", "-shm"))]
        return sum(f.stat().st_size for f in files if f.exists())


def parse_store(text: str | None) -> StoreSpec:
    """Read a ``--store`` value; ``None`` is the per-user default store file."""
    if text is None:
        from img2img.stores.local.store import default_store_path

        return StoreSpec("local", path=default_store_path())
    if text.lower().startswith(PINECONE_SCHEME):
        index, _, namespace = text[len(PINECONE_SCHEME) :].partition("/")
        if not index or "/" in namespace:
            raise ConfigurationError(
                f"--store {text!r}: write pinecone://INDEX or pinecone://INDEX/NAMESPACE"
            )
        return StoreSpec("pinecone", index=index, namespace=namespace)
    if not text.strip():
        raise ConfigurationError("--store is empty")
    return StoreSpec("local", path=Path(text).expanduser())


def open_store(spec: StoreSpec, *, create: bool, out: Output) -> VectorStore:
    """Open the store ``spec`` names, creating it only when ``create``.

    Raises :class:`~img2img.errors.ConfigurationError` when a store that is
    only to be read does not exist.
    """
    if spec.kind == "pinecone":
        from img2img.stores.pinecone.store import PineconeStore

        if not os.environ.get("PINECONE_API_KEY"):
            raise ConfigurationError(f"--store {spec} needs a key: set PINECONE_API_KEY")
        store = PineconeStore(spec.index, namespace=spec.namespace, create_if_missing=create)
        if not create:
            try:
                store.embedding_space()  # reaches the index: a missing one fails here
            except ConfigurationError as exc:
                store.close()
                if "does not exist" not in str(exc):
                    raise
                raise ConfigurationError(
                    f"no Pinecone index {spec.index!r} for --store {spec}: check the name, "
                    "or create it with 'img2img add'"
                ) from exc
        return store
    from img2img.stores.local.store import LocalStore

    assert spec.path is not None
    if spec.path.is_dir():
        raise ConfigurationError(
            f"--store {spec} is a folder; give a store file such as index.sqlite3"
        )
    if not spec.path.exists():
        if not create:
            raise ConfigurationError(
                f"no store at {spec}: check --store, or create one with 'img2img add'"
            )
        check_can_create(spec.path)
        out.note(f"Creating a new store at {spec}")
        return LocalStore(spec.path)
    # A store on a read-only file system (or not ours to write) can still be read.
    return LocalStore(spec.path, read_only=not create and not can_write(spec.path))


def can_write(path: Path) -> bool:
    """Whether this process may write ``path`` and the journal files SQLite keeps beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def check_can_create(path: Path) -> None:
    """Refuse, before anything is said or made, a new store where files cannot be written."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigurationError(f"cannot create a store at {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"cannot create a store at {path}: {folder} may not be written "
            "(a read-only file system, or another user's folder); choose another --store"
        )
