"""A store on a file system that refuses writes: read commands work, creating one fails first.

The test drops the process's power to override file permissions (as root it
would otherwise write anywhere), so a folder and file without write permission
stand for a read-only file system.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import cli_env, run_cli

from img2img.stores.local.store import LocalStore


def _run_without_write_power(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "img2img", *map(str, args)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions cannot bind")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=cli_env(home), cwd=home
    )


@pytest.fixture
def sealed(store: Path, photos_copy: Path, home: Path) -> Iterator[Path]:
    """A store holding a few photos, in a folder nobody may write."""
    assert run_cli("--store", store, "add", photos_copy / "coffee.png", home=home).code == 0
    assert run_cli("--store", store, "add", photos_copy / "rocket.png", home=home).code == 0
    with LocalStore(store):
        pass  # closing checkpoints the journal into the file
    folder = store.parent / "sealed"
    folder.mkdir()
    for item in store.parent.iterdir():
        if item.name.startswith(store.name):
            shutil.move(str(item), folder / item.name)
    sealed_store = folder / store.name
    os.chmod(sealed_store, 0o444)
    os.chmod(folder, 0o555)
    yield sealed_store
    os.chmod(folder, 0o755)


def test_a_read_only_store_can_be_read(sealed: Path, photos_copy: Path, home: Path) -> None:
    before = sorted(p.name for p in sealed.parent.iterdir())
    for args in (
        ["info", "--json"],
        ["list"],
        ["search", photos_copy / "coffee.png"],
        ["postings", photos_copy / "coffee.png"],
        ["duplicates"],
    ):
        done = _run_without_write_power("--store", sealed, *args, home=home)
        assert done.returncode == 0, (args, done.stderr)
    assert sorted(p.name for p in sealed.parent.iterdir()) == before  # nothing made there
    found = _run_without_write_power(
        "--store", sealed, "--json", "search", photos_copy / "coffee.png", home=home
    )
    assert '"title": "coffee.png"' in found.stdout
    refused = _run_without_write_power("--store", sealed, "delete", "0" * 32, home=home)
    assert refused.returncode == 1


def test_creating_a_store_where_it_cannot_be_written_fails_before_saying_so(
    sealed: Path, photos_copy: Path, home: Path
) -> None:
    target = sealed.parent / "new.sqlite3"
    done = _run_without_write_power(
        "--store", target, "--embedder", "efficientnet", "add", photos_copy, home=home
    )
    assert done.returncode == 1
    assert "Creating a new store" not in done.stderr
    assert f"cannot create a store at {target}" in done.stderr
    assert not target.exists()


def test_local_store_read_only_refuses_writes_and_makes_nothing(tmp_path: Path) -> None:
    import numpy as np

    from img2img.errors import StoreError
    from img2img.models import EmbeddingSpace, VectorRecord

    path = tmp_path / "s.sqlite3"
    with LocalStore(path) as store:
        store.set_embedding_space(EmbeddingSpace("hash/4", 4))
        store.upsert([VectorRecord("a", np.array([1, 0, 0, 0], np.float32), {"title": "x"})])
    with LocalStore(path, read_only=True) as store:
        assert store.read_only
        assert store.count() == 1
        assert store.query(np.array([1, 0, 0, 0], np.float32), k=1)[0].id == "a"
        with pytest.raises(StoreError):
            store.delete(["a"])
    with pytest.raises(StoreError, match="no store"):
        LocalStore(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()
