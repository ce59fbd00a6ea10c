"""What the stages share: the settings, an item as it travels, and the hooks a caller plugs in.

Every stage imports this module and none imports the runner, so the stages
draw no import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from img2img.images import DEFAULT_MAX_PIXELS
from img2img.models import ImageCandidate

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Downloaded", "Gate", "IndexSettings", "Item", "PictureKeeper"]


@dataclass(frozen=True, slots=True)
class IndexSettings:
    workers: int = 8
    batch_size: int = 32
    max_pixels: int = DEFAULT_MAX_PIXELS
    reindex: bool = False
    #: Embed and store the regions of composites (see :mod:`img2img.pipeline.regions`).
    regions: bool = True

    @property
    def window(self) -> int:
        """Items in flight at most (queued, downloading, or in the workshop); with one
        batch waiting, the items held in memory."""
        return max(self.workers * 4, self.batch_size)


@dataclass(frozen=True, slots=True)
class Downloaded:
    """One candidate's bytes, on their way from a download thread to the workshop;
    ``signature`` holds a local file's size and time, read before its bytes."""

    id: str
    candidate: ImageCandidate
    content: bytes
    signature: dict[str, Any]


@dataclass(slots=True)
class Item:
    """One downloaded image, ready for the model: ``prepared`` is False when ``payload``
    is the decoded image rather than the embedder's prepared input."""

    id: str
    candidate: ImageCandidate
    sha256: str
    metadata: dict[str, Any]
    payload: Any
    prepared: bool
    picture: bytes | None = None
    #: Where the image is split: each region's box, model input, and whether it is prepared.
    regions: list[tuple[tuple[int, int, int, int], Any, bool]] = field(default_factory=list)


class PictureKeeper(Protocol):
    """Keeps a small picture of each stored image (the postings' picture cache).

    ``shrink`` runs on a workshop thread with the decoded image and the bytes
    it was decoded from, and returns what to keep (``None`` to keep nothing);
    ``keep`` runs on the calling thread once the store holds the record, with
    the original image's size.
    """

    def shrink(self, image: Image.Image, source: bytes | None = None) -> bytes | None: ...

    def keep(self, id: str, picture: bytes, width: int, height: int) -> None: ...


class Gate(Protocol):
    """Decides, once an image is downloaded and decoded, whether it goes on to the store.

    ``admit`` runs on a workshop thread (so it must be thread-safe) with the
    record id, the candidate, the decoded RGB image and the sha256 (hex) of
    the downloaded bytes. ``True`` lets the image be embedded and stored;
    ``False`` drops it before the model sees it, counted in the report as
    ``refused``. The gate keeps its own account of why. An exception fails
    that one item at stage ``verify`` (or ends the run, if systemic).
    """

    def admit(
        self, id: str, candidate: ImageCandidate, image: Image.Image, sha256: str
    ) -> bool: ...
