"""Whether a store file may be written: a read-only file system or another user's folder
is opened read-only, and a new store is refused where it could not be written."""

from __future__ import annotations

import os
from pathlib import Path

from img2img.errors import ConfigurationError

__all__ = ["can_write", "check_can_create"]


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
