"""``--store``: ``NAME://LOCATION`` for any store installed, or a path for the local one.

``pinecone://INDEX/NAMESPACE`` names the store ``pinecone`` of the
``img2img.stores`` entry points (:mod:`img2img.registry`) and hands it
``INDEX/NAMESPACE``; text without ``NAME://`` is a path for the store ``local``.
The store's class opens it (``from_options``, see :mod:`img2img.options`).

Commands that write (``add``, ``index``, ``sync``) create a missing store and
say where; commands that only read refuse a store that does not exist, so a
typo in ``--store`` is an error rather than a new, empty store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import img2img.registry as registry
from img2img.errors import ConfigurationError, StoreNotFoundError

if TYPE_CHECKING:
    from img2img.cli.output import Output
    from img2img.protocols import VectorStore

__all__ = ["LOCAL_STORE", "StoreSpec", "open_store", "parse_store"]

#: The store a plain path (or no ``--store``) names.
LOCAL_STORE = "local"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_+.-]*)://(.*)$", re.S)


@dataclass(frozen=True)
class StoreSpec:
    """Which installed store (``kind``, its entry-point name) and where it is (``location``)."""

    kind: str
    location: str

    def __str__(self) -> str:
        if self.kind != LOCAL_STORE:
            return f"{self.kind}://{self.location}"
        if self.location.strip():
            return self.location
        from img2img.stores.local.store import default_store_path

        return str(default_store_path())


def parse_store(text: str | None) -> StoreSpec:
    """Read a ``--store`` value; ``None`` is the per-user default store file."""
    if text is None:
        return StoreSpec(LOCAL_STORE, "")
    if not text.strip():
        raise ConfigurationError("--store is empty")
    found = _SCHEME.match(text)
    if found:
        return StoreSpec(found.group(1).lower(), found.group(2))
    return StoreSpec(LOCAL_STORE, text)


def _store_class(spec: StoreSpec) -> Any:
    try:
        adapter = registry.load("store", spec.kind)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--store {spec}: {exc}") from exc
    if not callable(getattr(adapter, "from_options", None)):
        raise ConfigurationError(
            f"--store {spec}: the store {spec.kind!r} cannot be opened from the command "
            "(it has no from_options); use it from Python"
        )
    return adapter


def open_store(spec: StoreSpec, *, create: bool, out: Output) -> VectorStore:
    """Open the store ``spec`` names, creating it only when ``create``.

    Raises :class:`~img2img.errors.StoreNotFoundError` when a store that is
    only to be read does not exist.
    """
    adapter = _store_class(spec)
    try:
        store: VectorStore = adapter.from_options(spec.location, create=False)
    except StoreNotFoundError as exc:
        if not create:
            raise StoreNotFoundError(
                f"{exc}: check --store, or create one with 'img2img add'"
            ) from exc
        # The store refuses a place it cannot write before anything is said.
        store = adapter.from_options(spec.location, create=True)
        out.note(f"Creating a new store at {spec}")
    return store


def store_exists(spec: StoreSpec) -> VectorStore | None:
    """The store ``spec`` names, opened, if it exists; ``None`` if it does not."""
    try:
        found: VectorStore = _store_class(spec).from_options(spec.location, create=False)
    except StoreNotFoundError:
        return None
    return found
