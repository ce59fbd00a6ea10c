"""The prepare stage: decode, hash, gate and prepare each downloaded image, a thread per core.

The workshop does the CPU work on downloaded images apart from the download
threads, so downloads stay in flight while images are decoded, and a few
threads keep the cores busy instead of dozens taking turns. At most
``backlog`` downloaded images wait here; a download thread with one more
waits too, so memory stays bounded.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from img2img.cores import available_cores
from img2img.images import decode_image
from img2img.pipeline.failures import guarded, is_systemic
from img2img.pipeline.handoff import HandOff, Outcome, Ready, Refused
from img2img.pipeline.items import Downloaded, Gate, Item, PictureKeeper
from img2img.pipeline.regions import cut_regions, regions_metadata
from img2img.protocols import Embedder, PreparingEmbedder
from img2img.provenance import build_metadata

__all__ = ["Preparer", "Workshop"]


class Preparer:
    """The work on one downloaded image, from bytes to an item ready for the model."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        keyphrase: str | None,
        max_pixels: int,
        pictures: PictureKeeper | None = None,
        gate: Gate | None = None,
        regions: bool = False,
    ) -> None:
        self._regions = regions
        self._embedder = embedder
        self._preparing = isinstance(embedder, PreparingEmbedder)
        self._keyphrase = keyphrase
        self._max_pixels = max_pixels
        self._pictures = pictures
        self._gate = gate

    def __call__(self, downloaded: Downloaded) -> Outcome:
        identity, candidate, content = downloaded.id, downloaded.candidate, downloaded.content
        image = guarded("decode", lambda: decode_image(content, max_pixels=self._max_pixels))
        metadata = guarded(
            "decode",
            lambda: build_metadata(
                candidate, keyphrase=self._keyphrase, content=content, image=image
            ),
        )
        metadata.update(downloaded.signature)
        sha256 = str(metadata["sha256"])
        gate = self._gate
        if gate is not None and not guarded(
            "verify", lambda: gate.admit(identity, candidate, image, sha256)
        ):
            return Refused(candidate)
        payload: Any = image
        if self._preparing:
            try:
                payload = self._embedder.prepare(image)  # type: ignore[attr-defined]
            except Exception as exc:
                if is_systemic(exc):
                    raise
                payload = image  # embedded whole on the model thread, where failures are isolated
        picture = self._pictures.shrink(image, content) if self._pictures is not None else None
        regions = cut_regions(image, self._embedder, self._preparing) if self._regions else []
        metadata.update(regions_metadata(regions))
        item = Item(
            identity, candidate, sha256, metadata, payload, payload is not image, picture, regions
        )
        return Ready(item)


class Workshop:
    """A thread per core running a :class:`Preparer`; each outcome settles in ``handoff``."""

    def __init__(self, prepare: Preparer, handoff: HandOff, *, backlog: int) -> None:
        self._prepare = prepare
        self._handoff = handoff
        self._pool = ThreadPoolExecutor(available_cores(), thread_name_prefix="img2img-prepare")
        self._room = threading.BoundedSemaphore(backlog)

    def submit(self, downloaded: Downloaded) -> None:
        """Queue ``downloaded``, waiting while ``backlog`` images are queued or in work."""
        self._room.acquire()
        try:
            future = self._pool.submit(
                self._handoff.settle, downloaded.candidate, lambda: self._prepare(downloaded)
            )
        except BaseException:
            self._room.release()
            raise
        # Also when cancelled at shutdown, so no download thread waits for room forever.
        future.add_done_callback(lambda _: self._room.release())

    def shutdown(self, *, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
