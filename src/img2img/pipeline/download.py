"""The download stage: threads that only download, and hand the bytes on to the workshop.

Downloads spend most of their time waiting on the network; a thread that
decoded too would be a download not in flight. So each thread reads one
candidate's bytes, hands them on (waiting while the workshop is full, which
bounds memory), and goes on to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from img2img.models import ImageCandidate
from img2img.pipeline.failures import guarded
from img2img.pipeline.handoff import HandOff, Outcome
from img2img.pipeline.items import Downloaded
from img2img.pipeline.reuse import signature_fields

__all__ = ["Downloads"]


class Downloads:
    """``workers`` download threads; ``hand_on`` takes each download's bytes, and a
    download that fails is settled in ``handoff`` at stage ``fetch``."""

    def __init__(
        self,
        read: Callable[[str], bytes],
        workers: int,
        hand_on: Callable[[Downloaded], None],
        handoff: HandOff,
    ) -> None:
        self._read = read
        self._hand_on = hand_on
        self._handoff = handoff
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="img2img-fetch")

    def submit(self, identity: str, candidate: ImageCandidate) -> None:
        self._pool.submit(
            self._handoff.settle, candidate, lambda: self._download(identity, candidate)
        )

    def _download(self, identity: str, candidate: ImageCandidate) -> Outcome | None:
        url = candidate.image_url
        # Stat before reading: a file changed in between looks changed next time.
        signature = guarded("fetch", lambda: signature_fields(url))
        content = guarded("fetch", lambda: self._read(url))
        self._hand_on(Downloaded(identity, candidate, content, signature))
        return None  # its outcome comes from the workshop

    def shutdown(self, *, wait: bool) -> None:
        """Stop; downloads not started are dropped. Without ``wait``, those running end
        on their own deadline and their results go nowhere."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
