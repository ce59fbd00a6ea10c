"""FolderSource: the image files in a local folder.

What counts as an image file is what the decoder reads on this installation
(:func:`img2img.images.readable_suffixes`): JPEG (``.jpg``, ``.jfif``…),
PNG, GIF, WebP, AVIF, BMP, TIFF, and HEIC with ``pillow-heif``. Hidden files
and folders (a leading dot) and the caches that photo tools and file servers
leave beside pictures (:data:`SKIPPED_FOLDERS`) are not walked into: their
thumbnails would be indexed as copies of every photo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from img2img.errors import ConfigurationError
from img2img.images import readable_suffixes
from img2img.models import ImageCandidate

__all__ = ["SKIPPED_FOLDERS", "FolderSource", "candidate_for_path", "is_skipped_name"]

#: Folders of thumbnails and file-system bookkeeping, never walked into (hidden ones aside).
SKIPPED_FOLDERS = frozenset(
    {
        "@eaDir",  # Synology thumbnails
        "__MACOSX",  # resource forks in unpacked zip files
        "$RECYCLE.BIN",
        "System Volume Information",
        "lost+found",
    }
)


def is_skipped_name(name: str) -> bool:
    """Whether a file or folder of this name is left out of folder indexing."""
    return name.startswith(".") or name in SKIPPED_FOLDERS


def candidate_for_path(path: Path) -> ImageCandidate:
    """A candidate for one local file: its ``file://`` URL (as image and as page: a
    file is its own place), the file name as title.

    When the file exists, its size (``file_size``, bytes) and modification
    time (``file_mtime``, Unix seconds) go into ``extra``, so a later sync can
    tell an untouched file without reading it again.
    """
    resolved = path.resolve()
    extra: dict[str, int | float] = {}
    try:
        status = resolved.stat()
    except OSError:
        pass  # reading it will fail and say why; the candidate itself is still valid
    else:
        extra = {"file_size": status.st_size, "file_mtime": status.st_mtime}
    return ImageCandidate(
        image_url=resolved.as_uri(),
        page_url=resolved.as_uri(),
        title=resolved.name,
        domain="localhost",
        extra=extra,
    )


class FolderSource:
    """An ``ImageSource`` over the image files under ``root``, in sorted path order.

    The keyphrase does not select files (a folder has no search engine); it is
    recorded with each image as provenance. Symbolic links to files are
    followed, links to folders are not (they can loop).
    """

    def __init__(self, root: str | os.PathLike[str], *, recursive: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigurationError(f"FolderSource needs a folder; {self.root} is not one")
        self.recursive = recursive

    def paths(self) -> list[Path]:
        """The image files the source would yield, sorted."""
        suffixes = readable_suffixes()
        found: list[Path] = []
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = (
                []
                if not self.recursive
                else [name for name in subfolders if not is_skipped_name(name)]
            )
            for name in files:
                path = Path(folder, name)
                if not is_skipped_name(name) and path.suffix.lower() in suffixes and path.is_file():
                    found.append(path)
        return sorted(found)

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        for path in self.paths()[:limit]:
            yield candidate_for_path(path)
