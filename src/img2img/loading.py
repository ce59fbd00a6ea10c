"""Where image bytes come from: ``file://`` URLs and paths from disk, ``http(s)`` through a Fetcher."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Union
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.errors import ConfigurationError, FetchError, ImageTooLargeError, ResponseTooLargeError
from img2img.images import DEFAULT_MAX_PIXELS, decode_image, to_rgb
from img2img.net.fetch import DEFAULT_MAX_BYTES
from img2img.protocols import Fetcher

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageInput", "is_http_url", "load_image", "local_image_bytes", "read_bytes"]

#: What ``search`` accepts: a path, an ``http(s)``/``file`` URL, raw bytes or a PIL image.
ImageInput = Union[str, "os.PathLike[str]", bytes, "Image.Image"]


def is_http_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ResponseTooLargeError(
                f"{path} is {size:,} bytes, over the limit of {max_bytes:,}", url=str(path)
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise FetchError(f"no such file: {path}", url=str(path)) from exc
    except IsADirectoryError as exc:
        raise FetchError(f"{path} is a folder, not an image file", url=str(path)) from exc
    except PermissionError as exc:
        raise FetchError(f"permission denied reading {path}", url=str(path)) from exc


def read_bytes(url: str, fetcher: Fetcher, *, max_file_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes at ``url``: ``file://`` read from disk, ``http(s)://`` through ``fetcher``."""
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        return fetcher.fetch(url)
    if scheme == "file":
        return _read_file(Path(url2pathname(urlsplit(url).path)), max_file_bytes)
    raise FetchError(f"unsupported URL scheme {scheme!r} in {url!r}; use http(s) or file", url=url)


def load_image(
    image: ImageInput, fetcher: Fetcher, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Turn any accepted query input into a safe RGB image."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.width * image.height > max_pixels:
            raise ImageTooLargeError(f"image has more than {max_pixels:,} pixels")
        return to_rgb(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image), max_pixels=max_pixels)
    if isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        url = (
            text
            if urlsplit(text).scheme in ("http", "https", "file")
            else Path(text).resolve().as_uri()
        )
        return decode_image(read_bytes(url, fetcher), max_pixels=max_pixels)
    raise TypeError(f"search takes a path, URL, bytes or PIL.Image, got {type(image).__name__}")


def local_image_bytes(image: ImageInput, *, max_file_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The encoded bytes of a local query image, to hand to a service that cannot see it.

    A path or ``file://`` URL is read from disk as it is; bytes pass through;
    a PIL image is encoded as JPEG (quality 95). An ``http(s)`` URL is refused
    with :class:`~img2img.errors.ConfigurationError` (a service can fetch it
    itself), as is any other scheme.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        to_rgb(image).save(buffer, format="JPEG", quality=95)
        return buffer.getvalue()
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        scheme = urlsplit(text).scheme.lower()
        if scheme in ("http", "https"):
            raise ConfigurationError(f"{text!r} is a web address: pass it as is, not its bytes")
        # One letter is a Windows drive (C:\photo.jpg), not a scheme.
        if len(scheme) > 1 and scheme != "file":
            raise ConfigurationError(f"not a local image: {text!r}")
        url = text if scheme == "file" else Path(text).resolve().as_uri()
        return _read_file(Path(url2pathname(urlsplit(url).path)), max_file_bytes)
    raise TypeError(f"expected a path, bytes or PIL.Image, got {type(image).__name__}")
