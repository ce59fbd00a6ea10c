"""Models built once and kept on disk, keyed by what they are built from.

The key is computed without any framework: a digest of the weights file and
the version of the code that builds the model. A folder is complete only when
its ``meta.json`` (written last) names that key, so a crash or a second process
never leaves a half-written model where a reader would take it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from img2img.errors import ModelUnavailableError

__all__ = ["built_model", "file_digest"]

logger = logging.getLogger("img2img")
_META = "meta.json"


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ModelUnavailableError(f"cannot read model weights {path}: {exc}") from exc
    return digest.hexdigest()


def built_model(
    cache_dir: Path,
    name: str,
    key: str,
    build: Callable[[], bytes],
    *,
    what: str,
    file_name: str = "model.onnx",
    rebuild: bool = False,
) -> Path:
    """The path of the model ``build`` makes for ``key``, building and caching it on first use.

    ``what`` describes the model for the one line said while it is built;
    ``rebuild`` builds again over a cached copy that failed to load.
    """
    folder = cache_dir / name / key[:32]
    target = folder / file_name
    if not rebuild and _is_complete(folder, key) and target.is_file():
        return target
    logger.warning("img2img: building %s once, into %s (about a second)...", what, folder)
    started = time.perf_counter()
    data = build()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
        try:
            (staging / file_name).write_bytes(data)
            (staging / _META).write_text(json.dumps({"key": key}), encoding="utf-8")
            folder.parent.mkdir(parents=True, exist_ok=True)
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # another process finished the same build first
                os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise ModelUnavailableError(f"cannot write {what} to {folder}: {exc}") from exc
    if not _is_complete(folder, key):
        raise ModelUnavailableError(f"could not write {what} to {folder}")
    logger.warning("img2img: built %s in %.1f s", what, time.perf_counter() - started)
    return target


def _is_complete(folder: Path, key: str) -> bool:
    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("key") == key
