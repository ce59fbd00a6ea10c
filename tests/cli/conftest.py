"""Fixtures for the command's tests: a private home, copies of real photos, a store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import hash_store


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The home folder of the command's process."""
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def photos_copy(photo_folder: Path, tmp_path: Path) -> Path:
    """A folder of real photos the test may change."""
    return Path(shutil.copytree(photo_folder, tmp_path / "photos"))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store file whose recorded model is the test embedder."""
    return hash_store(tmp_path / "index.sqlite3")
