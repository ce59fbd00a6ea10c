"""Adding pictures to a watch list: read each once, name it by its bytes, keep what to ask.

The watch list of a store lives beside its picture cache
(``index.pictures.sqlite3`` -> ``index.watch.sqlite3``), so every store has
its own and a store in memory has one in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from img2img.errors import ConfigurationError
from img2img.loading import ImageInput, load_input, local_image_bytes
from img2img.locate.engines import engine_name
from img2img.protocols import Fetcher, ReverseImageSource
from img2img.watch.book import WatchBook, WatchedPicture

__all__ = ["add_to_watch", "watch_path_beside"]


def watch_path_beside(cache_path: str | Path) -> str | Path:
    """Where the watch list of the store whose picture cache is at ``cache_path`` lives."""
    if str(cache_path) == ":memory:":
        return ":memory:"
    path = Path(cache_path)
    name = path.name.removesuffix(".sqlite3").removesuffix(".pictures")
    return path.with_name(f"{name}.watch.sqlite3")


def _label_of(image: ImageInput, loaded_url: str | None, index: int) -> str:
    if isinstance(image, (str, Path)):
        return Path(str(image)).name or str(image)
    return Path(loaded_url).name if loaded_url else f"picture {index + 1}"


def add_to_watch(
    book: WatchBook,
    images: ImageInput | Sequence[ImageInput],
    fetcher: Fetcher,
    *,
    engines: Sequence[ReverseImageSource | str] = (),
    sources: Sequence[str] = (),
    label: str | None = None,
    keyphrase: str = "",
    max_pixels: int,
) -> list[WatchedPicture]:
    """Watch each of ``images``: read now (a path, URL, bytes or PIL image), kept in the book.

    ``engines`` names the engines to ask for it (objects or names; none: every
    engine the check is given), ``sources`` the sources to read (names the
    check is given sources under), ``label`` how it is shown (default: its
    file name), ``keyphrase`` what sources are searched with.

    Raises:
        ConfigurationError: no images, or an engine name that is empty.
    """
    # One picture (a path, URL, bytes, PIL image) or a list of them.
    given: list[ImageInput] = (
        list(images) if isinstance(images, (list, tuple)) else [images]  # type: ignore[list-item]
    )
    if not given:
        raise ConfigurationError("watch needs at least one picture")
    names = [e if isinstance(e, str) else engine_name(e) for e in engines]
    if any(not name.strip() for name in names):
        raise ConfigurationError("an engine name is empty")
    added = []
    for n, image in enumerate(given):
        loaded = load_input(image, fetcher, max_pixels=max_pixels)
        data = loaded.data if loaded.data is not None else local_image_bytes(loaded.image)
        added.append(
            book.add(
                hashlib.sha256(data).hexdigest(),
                data,
                label=label or _label_of(image, loaded.url, n),
                engines=names,
                sources=list(sources),
                keyphrase=keyphrase,
            )
        )
    return added
