"""Where image bytes come from: files on disk, ``http(s)`` through a Fetcher, or the caller.

Local files obey the same limits as downloads: only regular files are read
(never a device, FIFO or socket, which can be read without end or block for
ever), and the size limit is enforced while reading, not only by a size
taken beforehand, since a file can grow between the two. Every function here
raises only :mod:`img2img.errors`, whatever it is given.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Union
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np

from img2img.errors import (
    ConfigurationError,
    FetchError,
    ImageError,
    ImageTooLargeError,
    Img2ImgError,
    InvalidImageError,
    ResponseTooLargeError,
)
from img2img.images import DEFAULT_MAX_PIXELS, decode_image, to_rgb
from img2img.net.fetch import DEFAULT_MAX_BYTES
from img2img.protocols import Fetcher

if TYPE_CHECKING:
    import numpy.typing as npt
    from PIL import Image

__all__ = [
    "ImageInput",
    "LoadedImage",
    "expand_path",
    "is_http_url",
    "load_image",
    "load_input",
    "local_image_bytes",
    "read_bytes",
    "read_file",
    "to_url",
]

#: What ``search`` accepts: a path (``~`` expanded), an ``http(s)``/``file`` URL, raw
#: bytes, a binary file object, a PIL image, or a uint8 array ``(H, W)``, ``(H, W, 3)``
#: or ``(H, W, 4)``.
ImageInput = Union[
    str,
    "os.PathLike[str]",
    bytes,
    bytearray,
    memoryview,
    BinaryIO,
    "Image.Image",
    "npt.NDArray[Any]",
]

_URL_SCHEMES = ("http", "https", "file")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_READ_STEP = 1 << 20
_SPECIAL_FILES = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def is_http_url(value: str) -> bool:
    """Whether ``value`` is an ``http(s)`` URL; ``False`` for text that does not parse."""
    try:
        return urlsplit(value).scheme.lower() in ("http", "https")
    except ValueError:
        return False


def expand_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; unchanged when there is no such home."""
    plain = Path(path)
    try:
        return plain.expanduser()
    except RuntimeError:  # "~nobody": no home to expand to, so it is a plain name
        return plain


def to_url(text: str) -> str:
    """``text`` as a URL: ``http(s)``/``file`` URLs as they are, paths as ``file://`` URLs.

    A path is expanded (``~``) and made absolute. Text that looks like a URL of
    another scheme (``ftp:``, ``data:``) stays as it is, to be refused by
    :func:`read_bytes` with a clear message, unless a file of that name exists.
    """
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    # One letter is a Windows drive ("C:\\photos"), not a scheme.
    if scheme in _URL_SCHEMES or (len(scheme) > 1 and not _exists(text)):
        return text
    try:
        return expand_path(text).resolve().as_uri()
    except (OSError, ValueError) as exc:
        raise FetchError(f"invalid path {text!r}: {exc}", url=text) from exc


def _exists(text: str) -> bool:
    try:
        return expand_path(text).exists()
    except (OSError, ValueError):
        return False


def _kind_of_special(mode: int) -> str | None:
    return next((kind for test, kind in _SPECIAL_FILES if test(mode)), None)


def read_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Raises :class:`ResponseTooLargeError` past ``max_bytes`` (checked as it
    reads) and :class:`FetchError` for anything that is not a readable
    regular file: missing, a folder, a device, a FIFO, a socket, no permission.
    """
    where = str(path)
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for ever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise FetchError(f"no such file: {path}", url=where) from exc
    except IsADirectoryError as exc:
        raise FetchError(f"{path} is a folder, not an image file", url=where) from exc
    except PermissionError as exc:
        raise FetchError(f"permission denied reading {path}", url=where) from exc
    except (OSError, ValueError) as exc:
        raise FetchError(f"cannot open {path}: {exc}", url=where) from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FetchError(f"{path} is a folder, not an image file", url=where)
        special = _kind_of_special(info.st_mode)
        if special is not None or not stat.S_ISREG(info.st_mode):
            raise FetchError(
                f"{path} is {special or 'not a regular file'}; only regular files are read",
                url=where,
            )
        if info.st_size > max_bytes:
            raise ResponseTooLargeError(
                f"{path} is {info.st_size:,} bytes, over the limit of {max_bytes:,}", url=where
            )
        return _read_capped(fd, path, max_bytes)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc}", url=where) from exc
    finally:
        os.close(fd)


def _read_capped(fd: int, path: Path, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        piece = os.read(fd, min(_READ_STEP, max_bytes + 1 - total))
        if not piece:
            return b"".join(chunks)
        total += len(piece)
        if total > max_bytes:
            raise ResponseTooLargeError(
                f"{path} grew past the limit of {max_bytes:,} bytes while it was read",
                url=str(path),
            )
        chunks.append(piece)


def read_bytes(url: str, fetcher: Fetcher, *, max_file_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes at ``url``: ``file://`` read from disk, ``http(s)://`` through ``fetcher``.

    Raises only :class:`FetchError` (and subclasses) for one URL's problems,
    whatever the text of ``url`` or the fetcher does.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        try:
            return fetcher.fetch(url)
        except Img2ImgError:
            raise
        except Exception as exc:
            raise FetchError(
                f"cannot fetch {url!r}: unexpected {type(exc).__name__} from the fetcher: {exc}",
                url=url,
            ) from exc
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FetchError(
                f"{url!r} names a file on {parts.netloc!r}; file URLs are read from this machine only",
                url=url,
            )
        return read_file(Path(url2pathname(parts.path)), max_file_bytes)
    if not scheme:
        raise FetchError(f"{url!r} is neither a URL nor a path to a file", url=url)
    raise FetchError(f"unsupported URL scheme {scheme!r} in {url!r}; use http(s) or file", url=url)


def _read_stream(stream: BinaryIO, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            piece = stream.read(min(_READ_STEP, max_bytes + 1 - total))
            if isinstance(piece, str):
                raise ConfigurationError("the file object is in text mode: open it with 'rb'")
            if not piece:
                return b"".join(chunks)
            total += len(piece)
            if total > max_bytes:
                raise ResponseTooLargeError(
                    f"the file object holds more than the limit of {max_bytes:,} bytes"
                )
            chunks.append(bytes(piece))
    except Img2ImgError:
        raise
    except Exception as exc:
        raise FetchError(f"cannot read the file object: {type(exc).__name__}: {exc}") from exc


def _from_array(array: npt.NDArray[Any], max_pixels: int) -> Image.Image:
    from PIL import Image

    shape = array.shape
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and shape[2] in (3, 4))):
        raise InvalidImageError(
            "an image array is uint8 of shape (H, W), (H, W, 3) or (H, W, 4); "
            f"got {array.dtype} of shape {shape}"
        )
    if shape[0] == 0 or shape[1] == 0:
        raise InvalidImageError(f"the image array is empty: shape {shape}")
    if shape[0] * shape[1] > max_pixels:
        raise ImageTooLargeError(
            f"the image array has {shape[0] * shape[1]:,} pixels, over the limit of {max_pixels:,}"
        )
    return to_rgb(Image.fromarray(np.ascontiguousarray(array)))


def _from_pil(image: Image.Image, max_pixels: int) -> Image.Image:
    if image.width * image.height > max_pixels:
        raise ImageTooLargeError(f"image has more than {max_pixels:,} pixels")
    try:
        return to_rgb(image)
    except ImageError:
        raise
    except (OSError, ValueError, EOFError, SyntaxError) as exc:  # a lazily loaded file that is bad
        raise InvalidImageError(f"cannot read the image: {exc}") from exc


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """A query input read and decoded: the safe RGB ``image``, the encoded bytes it
    came from (``None`` for a PIL image or an array, which have none) and the URL
    it was read from (``None`` unless it was a path or a URL)."""

    image: Image.Image
    data: bytes | None = None
    url: str | None = None


def load_input(
    image: ImageInput,
    fetcher: Fetcher,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedImage:
    """Read and decode any accepted query input, keeping its bytes and URL.

    Raises only :mod:`img2img.errors`: :class:`FetchError` when the bytes
    cannot be had, :class:`ImageError` when they are not a usable image, and
    :class:`ConfigurationError` for a value of a type that holds no image.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return LoadedImage(_from_pil(image, max_pixels))
    if isinstance(image, np.ndarray):
        return LoadedImage(_from_array(image, max_pixels))
    url: str | None = None
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        url = to_url(os.fsdecode(text) if isinstance(text, bytes) else text)
        data = read_bytes(url, fetcher, max_file_bytes=max_bytes)
    elif callable(getattr(image, "read", None)):
        data = _read_stream(image, max_bytes)
    else:
        raise ConfigurationError(
            "an image is a path, a URL, bytes, a binary file, a PIL.Image or a uint8 array; "
            f"got {type(image).__name__}"
        )
    return LoadedImage(decode_image(data, max_pixels=max_pixels), data, url)


def load_image(
    image: ImageInput,
    fetcher: Fetcher,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Image.Image:
    """Turn any accepted query input into a safe RGB image (see :func:`load_input`)."""
    return load_input(image, fetcher, max_pixels=max_pixels, max_bytes=max_bytes).image


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    to_rgb(image).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def local_image_bytes(image: ImageInput, *, max_file_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The encoded bytes of a local query image, to hand to a service that cannot see it.

    A path or ``file://`` URL is read from disk as it is (with the limits of
    :func:`read_file`); bytes and binary file objects pass through; a PIL image
    or a uint8 array is encoded as JPEG (quality 95). An ``http(s)`` URL is
    refused with :class:`~img2img.errors.ConfigurationError` (a service can
    fetch it itself), as is any other scheme or a value that holds no image.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return _jpeg(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, np.ndarray):
        return _jpeg(_from_array(image, DEFAULT_MAX_PIXELS))
    if isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        text = os.fsdecode(text) if isinstance(text, bytes) else text
        if is_http_url(text):
            raise ConfigurationError(f"{text!r} is a web address: pass it as is, not its bytes")
        url = to_url(text)
        if urlsplit(url).scheme.lower() != "file":
            raise ConfigurationError(f"not a local image: {text!r}")
        return read_bytes(url, _NO_FETCHER, max_file_bytes=max_file_bytes)
    if callable(getattr(image, "read", None)):
        return _read_stream(image, max_file_bytes)
    raise ConfigurationError(
        "expected a path, bytes, a binary file, a PIL.Image or a uint8 array; "
        f"got {type(image).__name__}"
    )


class _NoFetcher:
    """Stands in where only ``file://`` URLs can reach :func:`read_bytes`."""

    def fetch(self, url: str) -> bytes:
        raise ConfigurationError(f"{url!r} is a web address, not a local image")

    def close(self) -> None:
        """Nothing to release."""


_NO_FETCHER = _NoFetcher()
