"""FolderSource: the image files in a local folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from img2img.errors import ConfigurationError
from img2img.models import ImageCandidate

__all__ = ["IMAGE_SUFFIXES", "FolderSource", "candidate_for_path"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})


def candidate_for_path(path: Path) -> ImageCandidate:
    """A candidate for one local file: its ``file://`` URL, with the file name as title."""
    resolved = path.resolve()
    return ImageCandidate(image_url=resolved.as_uri(), title=resolved.name, domain="localhost")


class FolderSource:
    """An ``ImageSource`` over the image files under ``root``, in sorted path order.

    The keyphrase does not select files (a folder has no search engine); it is
    recorded with each image as provenance.
    """

    def __init__(self, root: str | os.PathLike[str], *, recursive: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigurationError(f"FolderSource needs a folder; {self.root} is not one")
        self.recursive = recursive

    def paths(self) -> list[Path]:
        """The image files the source would yield, sorted."""
        pattern = "**/*" if self.recursive else "*"
        return sorted(
            p for p in self.root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        for path in self.paths()[:limit]:
            yield candidate_for_path(path)
