"""CLIP's int8 image tower made at first use, from the pictures embedded, and kept in the cache.

On a CPU without AVX-512, fp32 CLIP runs at most about twice a naive PyTorch
loop; an int8 copy of the image tower calibrated on real photos runs about 1.7x
fp32 there (docs/performance.md). So when a CLIP folder has no int8 tower of
its own, the embedder gathers the first :data:`AUTO_INT8_PHOTOS` distinct
pictures it embeds (across calls), makes the copy from them (half calibrate,
half check it against fp32, :func:`~img2img.embedders.clip_int8.check_int8_tower`),
and times the routes again with it (:mod:`~img2img.embedders.clip_routes`).
It is used only where it keeps cosine 0.99 to fp32, so vectors from before
and after the switch share a store.

The copy is written to ``<cache>/clip-int8/<key>/`` (the folder itself may
be read-only or shared), keyed by the fp32 tower's file (path, size, time)
and ONNX Runtime's version. The folder holds ``int8.json`` (how it went) and,
when kept, ``model.int8.onnx``; it is written under another name and renamed
whole, so two processes building at once leave one complete copy. A copy that
falls short, or a quantiser that fails, is recorded the same way and not tried
again; no failure here ever fails the embedding.

``int8`` (a :class:`~img2img.embedders.clip.ClipEmbedder` argument,
``--clip-int8`` on the command line) chooses:

- ``"auto"``: the folder's own int8 tower, else the one made here;
- ``"folder"``: only the folder's own (nothing is made);
- ``"never"``: the fp32 routes alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from img2img.embedders.clip_int8 import INT8_FILE, INT8_RECORD, check_int8_tower
from img2img.embedders.clip_onnx import OnnxClip
from img2img.embedders.clip_routes import VisualRoute, choose_visual_route
from img2img.embedders.runtime import Runtime
from img2img.errors import ConfigurationError

__all__ = [
    "AUTO_INT8_PHOTOS",
    "Int8Mode",
    "VisualTower",
    "built_int8_folder",
    "check_int8_mode",
    "int8_tower",
]

logger = logging.getLogger("img2img")

#: What an embedder does about an int8 image tower (see the module docstring).
Int8Mode = Literal["auto", "folder", "never"]
#: Distinct pictures gathered before the copy is made: half calibrate, half check.
AUTO_INT8_PHOTOS = 32

Pixels = np.ndarray[Any, np.dtype[np.float32]]


def check_int8_mode(mode: str) -> Int8Mode:
    """``mode`` if it names one; raises :class:`ConfigurationError` otherwise."""
    if mode not in get_args(Int8Mode):
        raise ConfigurationError(
            f"unknown int8 setting {mode!r}; choose one of {', '.join(get_args(Int8Mode))}"
        )
    return mode  # type: ignore[return-value]


def built_int8_folder(clip: OnnxClip, cache_dir: Path) -> Path:
    """Where the int8 copy of ``clip``'s image tower made here is (or would be) kept."""
    source = clip.folder / "visual" / "model.onnx"
    stat = source.stat()
    try:
        version = metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        version = "none"
    identity = f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}|onnxruntime={version}"
    return cache_dir / "clip-int8" / hashlib.sha256(identity.encode()).hexdigest()[:32]


def _outcome(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / INT8_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def int8_tower(clip: OnnxClip, mode: Int8Mode, cache_dir: Path) -> Path | None:
    """The int8 tower to consider for ``clip`` under ``mode``, if there is one."""
    if mode == "never":
        return None
    own = clip.folder / "visual" / INT8_FILE
    if own.is_file():
        return own
    if mode == "folder":
        return None
    built = built_int8_folder(clip, cache_dir) / INT8_FILE
    return built if built.is_file() else None


def _decided(clip: OnnxClip, cache_dir: Path) -> bool:
    """Whether an int8 tower was already tried for ``clip``: in its folder, or here."""
    own = clip.folder / "visual" / INT8_RECORD
    return own.is_file() or _outcome(built_int8_folder(clip, cache_dir)) is not None


def _writable(folder: Path) -> bool:
    """Whether ``folder`` (or the nearest folder above it that exists) may be written.

    A copy that could not be kept would be made again by every process."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


class _Gathered:
    """Distinct prepared pictures, up to ``wanted``, gathered across calls."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.rows: list[Pixels] = []
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def offer(self, pixels: Pixels) -> bool:
        """Keep the rows of ``pixels`` not seen yet; whether enough are kept now."""
        with self._lock:
            for row in pixels:
                if len(self.rows) >= self.wanted:
                    break
                # The same picture embedded twice (a query searched again) must not count twice.
                digest = hashlib.blake2b(row.tobytes(), digest_size=16).digest()
                if digest not in self._seen:
                    self._seen.add(digest)
                    self.rows.append(np.array(row, dtype=np.float32))
            return len(self.rows) >= self.wanted


def _build(clip: OnnxClip, cache_dir: Path, pixels: Pixels) -> Path | None:
    """Make, check and keep the int8 copy from ``pixels``; its path if kept. Never raises
    (bar KeyboardInterrupt): a failure is recorded so that it is not tried again."""
    target = built_int8_folder(clip, cache_dir)
    logger.warning(
        "img2img: making an int8 copy of CLIP's image tower once, from the first %d pictures "
        "(half calibrate it, half check it against fp32), into %s; about a minute "
        "(--clip-int8 never / int8='never' turns this off)...",
        len(pixels),
        target,
    )
    started = time.perf_counter()
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _drop_abandoned(target.parent)
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
        try:
            record: dict[str, Any] = asdict(check_int8_tower(clip, pixels, staging / INT8_FILE))
        except Exception as exc:  # the quantiser and the runtime raise many kinds: recorded
            record = {"kept": False, "error": f"{type(exc).__name__}: {exc}".split("\n")[0]}
        record["seconds"] = round(time.perf_counter() - started, 1)
        record["source"] = str(clip.folder / "visual" / "model.onnx")
        (staging / INT8_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        _publish(staging, target)
    except OSError as exc:  # a cache that cannot be written: this process goes on in fp32
        logger.warning("img2img: could not keep CLIP's int8 tower in %s: %s", target, exc)
        return None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    kept = _outcome(target) or {}
    if kept.get("kept") and (target / INT8_FILE).is_file():
        logger.warning(
            "img2img: made CLIP's int8 image tower in %.1f s (held-out cosine to fp32 at least "
            "%.4f); timing the routes again",
            seconds,
            float(kept.get("min_cosine", 0.0)),
        )
        return target / INT8_FILE
    why = kept.get("error") or f"held-out cosine {float(kept.get('min_cosine', 0.0)):.4f} < 0.99"
    logger.warning(
        "img2img: CLIP's int8 image tower not kept (%s) after %.1f s; CLIP stays fp32 and "
        "will not try again for this model (%s)",
        why,
        seconds,
        target / INT8_RECORD,
    )
    return None


def _drop_abandoned(folder: Path, *, older_than: float = 3600.0) -> None:
    """Remove what builders killed mid-way left (a tower each): none takes an hour."""
    for staging in folder.glob(".build-*"):
        try:
            if time.time() - staging.stat().st_mtime > older_than:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError:
            continue


def _publish(staging: Path, target: Path) -> None:
    """Rename the complete ``staging`` folder to ``target``, unless another process did first."""
    try:
        os.replace(staging, target)
    except OSError:
        if _outcome(target) is None:  # not another builder's complete copy: a real failure
            raise


class VisualTower:
    """The route running a CLIP folder's image tower, switched to int8 once a copy is made.

    ``forward`` embeds with the current route; under ``int8="auto"`` with
    ``runtime="auto"`` and no int8 tower tried yet, it also gathers the
    pictures, and the call that brings them to :data:`AUTO_INT8_PHOTOS` makes
    the copy and chooses the route again (later batches of that call use it).
    """

    def __init__(
        self,
        clip: OnnxClip,
        runtime: Runtime,
        mode: Int8Mode,
        cache_dir: Path,
        *,
        batch_size: int,
        photos: int = AUTO_INT8_PHOTOS,
    ) -> None:
        self._clip = clip
        self._runtime = runtime
        self._cache_dir = cache_dir
        self._batch_size = batch_size
        tower = int8_tower(clip, mode, cache_dir)
        self.route: VisualRoute = self._choose(tower)
        wanted = runtime == "auto" and mode == "auto" and tower is None
        if wanted and not _writable(cache_dir):
            logger.info("img2img: %s is read-only: CLIP's int8 tower is not made", cache_dir)
            wanted = False
        self._gathered = _Gathered(photos) if wanted and not _decided(clip, cache_dir) else None
        self._building = threading.Lock()

    def _choose(self, tower: Path | None) -> VisualRoute:
        return choose_visual_route(
            self._clip, self._runtime, self._cache_dir, batch_size=self._batch_size, int8=tower
        )

    def forward(self, pixels: Pixels) -> Pixels:
        """float32 ``(n, 3, height, width)`` prepared pixels -> ``(n, dim)``, not normalised."""
        vectors = self.route.forward(pixels)
        gathered = self._gathered
        if gathered is not None and gathered.offer(pixels):
            self._make_int8(gathered)
        return vectors

    def _make_int8(self, gathered: _Gathered) -> None:
        if not self._building.acquire(blocking=False):
            return  # another thread is making it; this one goes on with the current route
        try:
            if self._gathered is not gathered:
                return
            self._gathered = None
            if _decided(self._clip, self._cache_dir):  # another process finished one meanwhile
                tower = int8_tower(self._clip, "auto", self._cache_dir)
            else:
                tower = _build(self._clip, self._cache_dir, np.stack(gathered.rows))
            if tower is not None:
                try:
                    self.route = self._choose(tower)
                except Exception as exc:  # a runtime failing on the copy: fp32 goes on
                    logger.warning("img2img: CLIP's int8 tower did not load, fp32 goes on: %s", exc)
        finally:
            self._building.release()
