"""Reading fields of SerpAPI results: URLs, text and sizes, as every engine's mapping needs.

SerpAPI relays what Google shows, so any field may be missing, empty or of an
unexpected type; these helpers answer ``None`` rather than raise.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["FORBIDDEN_IN_SITE", "host_like", "http_url", "size", "text"]

#: Characters that cannot appear in a host name (and would break a ``site:`` operator).
FORBIDDEN_IN_SITE = frozenset(' \t\n"()')


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute ``http(s)`` URL, else ``None``.

    A remote service decides these URLs; anything else (``file://``,
    ``data:``) must never reach the fetcher.
    """
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value.strip()


def text(value: object) -> str | None:
    """A non-empty stripped string, or ``None``."""
    return value.strip() or None if isinstance(value, str) else None


def size(value: object) -> int | None:
    """A positive pixel count, or ``None``."""
    # bool is an int in Python; a size of True is nonsense.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def host_like(value: str | None) -> str | None:
    """``value`` lower-cased without ``www.`` when it looks like a host name (``pinterest.com``).

    SerpAPI's ``source`` is sometimes a host and sometimes a site's name
    (``"Wikimedia Commons"``); only the first is a domain.
    """
    if value and "." in value and not FORBIDDEN_IN_SITE & set(value) and "/" not in value:
        return value.lower().removeprefix("www.")
    return None
