"""Reading the fields of web-API responses, as the sources that call them need.

Remote services decide these values, so every reader here accepts anything
and returns a clean value or ``None``: a missing, mistyped or hostile field
never raises and never reaches the fetcher or the store.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from img2img.models import MetadataValue

__all__ = [
    "IMAGE_EXTENSIONS",
    "compact",
    "has_image_extension",
    "http_url",
    "iso_day",
    "is_image_type",
    "keyphrase_words",
    "matches_words",
    "number",
    "positive_int",
    "text",
    "unix_time",
]

#: File extensions taken as images when a service gives no content type.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
)
# Vector images are not pixels; Pillow cannot decode them.
_NOT_RASTER = frozenset({"image/svg+xml"})
_FRACTION = re.compile(r"(\.\d+)")


def http_url(value: object) -> str | None:
    """``value`` stripped, if it is an absolute ``http(s)`` URL with a host; else ``None``."""
    if not isinstance(value, str):
        return None
    candidate = value.strip()
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
    except ValueError:  # a malformed port or IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return candidate


def text(value: object) -> str | None:
    """``value`` stripped if it is a non-empty string, else ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def positive_int(value: object) -> int | None:
    """``value`` if it is an integer above zero (``True`` is not a size), else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def number(value: object) -> float | None:
    """``value`` as a float if it is a number or a numeric string (``"92.58"``), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def unix_time(value: object) -> int | None:
    """Unix seconds of an ISO 8601 timestamp (``Z`` or an offset; any fraction digits)."""
    stamp = text(value)
    if stamp is None:
        return None
    stamp = stamp.replace("Z", "+00:00").replace("z", "+00:00")
    # Python 3.10 reads only 3 or 6 fraction digits; services send 1 to 9.
    stamp = _FRACTION.sub(lambda m: (m.group(1) + "000000")[:7], stamp, count=1)
    try:
        moment = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def iso_day(value: object) -> str | None:
    """``"2019-03-02"`` if ``value`` starts with such a date, else ``None`` (services leave some empty)."""
    day = text(value)
    if day is None:
        return None
    try:
        return datetime.date.fromisoformat(day[:10]).isoformat()
    except ValueError:
        return None


def has_image_extension(url: str) -> bool:
    """Whether the path of ``url`` ends in a raster image extension."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return False
    return PurePosixPath(path).suffix.lower() in IMAGE_EXTENSIONS


def is_image_type(content_type: object) -> bool:
    """Whether a media type names a raster image (``image/png; charset=…`` included)."""
    if not isinstance(content_type, str):
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith("image/") and kind not in _NOT_RASTER


def keyphrase_words(keyphrase: str) -> tuple[str, ...]:
    """The words of a keyphrase, case-folded; empty for an empty keyphrase."""
    return tuple(word.casefold() for word in keyphrase.split())


def matches_words(words: tuple[str, ...], haystack: str) -> bool:
    """Whether every word occurs in ``haystack`` (case-insensitive); no words match all."""
    folded = haystack.casefold()
    return all(word in folded for word in words)


def compact(fields: Mapping[str, MetadataValue | None]) -> dict[str, MetadataValue]:
    """``fields`` without ``None`` values or empty strings: stores keep no nulls."""
    return {key: value for key, value in fields.items() if value is not None and value != ""}
