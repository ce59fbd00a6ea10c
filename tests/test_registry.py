"""Adapters by name: entry points read without importing, the built-in ones declared like any other."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import tomllib

from img2img import registry
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import ConfigurationError, MissingDependencyError

ROOT = Path(__file__).resolve().parents[1]


def declared() -> dict[str, dict[str, str]]:
    """The entry points pyproject.toml declares, by group."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        groups: dict[str, dict[str, str]] = tomllib.load(file)["project"]["entry-points"]
    return groups


def test_the_built_in_adapters_are_declared_as_entry_points_and_installed() -> None:
    groups = declared()
    assert set(groups) == set(registry.GROUPS.values())
    for kind, group in registry.GROUPS.items():
        installed = {p.name: p.value for p in entry_points(group=group)}
        missing = {name for name, target in groups[group].items() if installed.get(name) != target}
        assert not missing, (
            f"{group}: {sorted(missing)} declared in pyproject.toml but not installed; "
            "install the project again (make, or pip install -e .)"
        )
        found = registry.available(kind)
        for name in groups[group]:
            assert found[name].provider == "img2img-search"
            assert found[name].load() is not None  # each one imports


def test_listing_imports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A module that would fail to import: listing it must not try.
    (tmp_path / "loud_source.py").write_text("raise RuntimeError('imported')\n")
    info = tmp_path / "loud-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loud\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[img2img.sources]\nloud = loud_source:Source\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert "loud" in registry.available("source")
    assert "loud_source" not in sys.modules
    with pytest.raises(RuntimeError, match="imported"):
        registry.load("source", "loud")


def test_register_implementation_adds_and_replaces() -> None:
    try:
        registry.register_implementation("embedder", "tiny-hash", HashEmbedder)
        assert registry.load("embedder", "tiny-hash") is HashEmbedder
        assert registry.available("embedder")["tiny-hash"].provider is None
        with pytest.raises(ConfigurationError, match="already registered"):
            registry.register_implementation("embedder", "tiny-hash", HashEmbedder)
        registry.register_implementation(
            "embedder", "tiny-hash", "img2img.stores.memory:InMemoryStore", clobber=True
        )
        assert registry.load("embedder", "tiny-hash").__name__ == "InMemoryStore"
    finally:
        registry.unregister_implementation("embedder", "tiny-hash")
    assert "tiny-hash" not in registry.available("embedder")


def test_a_registered_name_wins_over_an_entry_point_of_that_name() -> None:
    try:
        registry.register_implementation("store", "local", "img2img.stores.memory:InMemoryStore")
        assert registry.load("store", "local").__name__ == "InMemoryStore"
    finally:
        registry.unregister_implementation("store", "local")
    assert registry.load("store", "local").__name__ == "LocalStore"


def test_an_import_that_fails_names_what_to_install() -> None:
    try:
        registry.register_implementation(
            "source", "nowhere", "no_such_package.source:Source", hint="pip install nowhere-source"
        )
        with pytest.raises(MissingDependencyError, match="pip install nowhere-source"):
            registry.load("source", "nowhere")
        registry.register_implementation(
            "source", "typo", "img2img.sources.static:NoSuchClass", clobber=True
        )
        with pytest.raises(ConfigurationError, match="does not exist"):
            registry.load("source", "typo")
    finally:
        registry.unregister_implementation("source", "nowhere")
        registry.unregister_implementation("source", "typo")


def test_bad_names_and_kinds_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"installed: .*google"):
        registry.load("source", "altavista")
    with pytest.raises(ConfigurationError, match="the kinds are"):
        registry.available("sink")
    with pytest.raises(ConfigurationError, match="module:Class"):
        registry.register_implementation("store", "x", "no.colon.here")


def test_entry_points_of_another_package_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "extra_stores-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-stores\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(
        "[img2img.stores]\nscratch = img2img.stores.memory:InMemoryStore\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    found = registry.available("store")["scratch"]
    assert (found.provider, found.target) == ("extra-stores", "img2img.stores.memory:InMemoryStore")
    assert found.load().__name__ == "InMemoryStore"
