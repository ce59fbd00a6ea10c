"""Adapters by name: what is installed, found through entry points, imported only when asked for.

A package adds a source, reverse source, embedder or store by declaring an
entry point in one of four groups; img2img's own adapters are declared in its
``pyproject.toml`` exactly the same way, so the command knows no adapter that
a third party could not add::

    [project.entry-points."img2img.sources"]
    feed = "my_package.feed:FeedSource"

Nothing is imported to list what is installed: an entry point is a name and a
dotted path (``module:Class``), read from the installed packages' metadata.
:func:`load` imports one when it is asked for, and turns an import that fails
(a dependency not installed) into a :class:`~img2img.errors.MissingDependencyError`
naming the package to install. :func:`register_implementation` adds an adapter
at run time, for code that is not packaged (a notebook, a test).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, get_args

from img2img.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "GROUPS",
    "AdapterKind",
    "Registration",
    "available",
    "load",
    "register_implementation",
    "unregister_implementation",
]

AdapterKind = Literal["source", "reverse_source", "embedder", "store"]

#: The entry-point group of each kind of adapter.
GROUPS: Mapping[AdapterKind, str] = {
    "source": "img2img.sources",
    "reverse_source": "img2img.reverse_sources",
    "embedder": "img2img.embedders",
    "store": "img2img.stores",
}


@dataclass(frozen=True)
class Registration:
    """One adapter by name: where its class is (``module:attr``) and who provides it.

    ``provider`` is the distribution that declared the entry point (``None``
    for :func:`register_implementation`); ``hint`` is said when the import fails.
    """

    kind: AdapterKind
    name: str
    target: str
    provider: str | None = None
    hint: str | None = None
    loaded: Any = None

    def load(self) -> Any:
        """The adapter's class (or factory), imported now.

        Raises :class:`~img2img.errors.MissingDependencyError` when its module,
        or a package it needs, cannot be imported.
        """
        if self.loaded is not None:
            return self.loaded
        module_name, _, attribute = self.target.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
            for part in attribute.split(".") if attribute else ():
                found = getattr(found, part)
        except ImportError as exc:
            raise MissingDependencyError(
                f"{self.describe()} cannot be imported ({exc}); {self._hint()}"
            ) from exc
        except AttributeError as exc:
            raise ConfigurationError(
                f"{self.describe()} names {self.target}, which does not exist ({exc})"
            ) from exc
        return found

    def describe(self) -> str:
        kind = self.kind.replace("_", " ")
        return f"the {kind} {self.name!r}" + (f" of {self.provider}" if self.provider else "")

    def _hint(self) -> str:
        if self.hint:
            return self.hint
        if self.provider:
            return (
                f"reinstall it with its dependencies: pip install --force-reinstall {self.provider}"
            )
        return "install the package that provides it"


_registered: dict[AdapterKind, dict[str, Registration]] = {kind: {} for kind in GROUPS}


def _check_kind(kind: str) -> AdapterKind:
    if kind not in GROUPS:
        raise ConfigurationError(
            f"no kind of adapter {kind!r}; the kinds are {', '.join(get_args(AdapterKind))}"
        )
    return kind  # type: ignore[return-value]


#: The last scan of the installed packages' entry points, and the ``sys.path`` it read.
_scanned: tuple[tuple[str, ...], dict[str, list[EntryPoint]]] | None = None


def _entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group``. Reading every package's metadata takes tens of
    milliseconds, so it is read once, and again only when ``sys.path`` changes."""
    global _scanned
    path = tuple(sys.path)
    if _scanned is None or _scanned[0] != path:
        installed = entry_points()  # one read of every package's metadata, for all groups
        by_group = {group: list(installed.select(group=group)) for group in GROUPS.values()}
        _scanned = (path, by_group)
    return _scanned[1].get(group, [])


def _from_entry_points(kind: AdapterKind) -> dict[str, Registration]:
    found: dict[str, Registration] = {}
    for point in _entry_points(GROUPS[kind]):
        if point.name in found:  # the first on sys.path wins, as for imports
            continue
        provider = point.dist.name if point.dist is not None else None
        found[point.name] = Registration(kind, point.name, point.value, provider)
    return found


def available(kind: str) -> dict[str, Registration]:
    """Every adapter of ``kind`` installed or registered, by name, sorted; nothing is imported.

    ``kind`` is ``"source"``, ``"reverse_source"``, ``"embedder"`` or ``"store"``.
    One registered at run time wins over an entry point of the same name.
    """
    checked = _check_kind(kind)
    merged = {**_from_entry_points(checked), **_registered[checked]}
    return dict(sorted(merged.items()))


def load(kind: str, name: str) -> Any:
    """The adapter ``name`` of ``kind``, imported now.

    Raises :class:`~img2img.errors.ConfigurationError` naming the installed
    ones when there is none of that name, and
    :class:`~img2img.errors.MissingDependencyError` when it cannot be imported.
    """
    known = available(kind)
    if name not in known:
        names = ", ".join(known) or "none"
        raise ConfigurationError(
            f"no {kind.replace('_', ' ')} named {name!r} is installed (installed: {names})"
        )
    return known[name].load()


def register_implementation(
    kind: str,
    name: str,
    target: str | type[Any],
    *,
    clobber: bool = False,
    hint: str | None = None,
) -> None:
    """Make ``target`` (a class, or a ``"module:Class"`` path imported when first asked
    for) the adapter ``name`` of ``kind`` in this process, as an entry point would.

    Refuses (``ConfigurationError``) a name already registered unless ``clobber``;
    ``hint`` is said if importing ``target`` fails.
    """
    checked = _check_kind(kind)
    if not clobber and name in _registered[checked]:
        raise ConfigurationError(
            f"a {kind.replace('_', ' ')} named {name!r} is already registered; "
            "pass clobber=True to replace it"
        )
    if isinstance(target, str):
        if ":" not in target:
            raise ConfigurationError(f"{target!r}: write the path as 'module:Class'")
        registration = Registration(checked, name, target, hint=hint)
    else:
        path = f"{target.__module__}:{target.__qualname__}"
        registration = Registration(checked, name, path, hint=hint, loaded=target)
    _registered[checked][name] = registration


def unregister_implementation(kind: str, name: str) -> None:
    """Forget an adapter :func:`register_implementation` added; entry points stay."""
    _registered[_check_kind(kind)].pop(name, None)
