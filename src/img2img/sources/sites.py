"""Sites by name: the social-media list and the one way a site is written.

``clean_site("https://www.Instagram.com/")`` is ``"instagram.com"``; a site is
then matched by host, subdomains included (``old.reddit.com`` is on
``reddit.com``).
"""

from __future__ import annotations

from collections.abc import Iterable

from img2img.errors import ConfigurationError

__all__ = [
    "FORBIDDEN_IN_SITE",
    "SOCIAL_MEDIA_SITES",
    "clean_site",
    "clean_sites",
    "host_like",
    "on_sites",
]

#: Characters that cannot appear in a host name (and would break a ``site:`` operator).
FORBIDDEN_IN_SITE = frozenset(' \t\n"()')

#: Sites where people post pictures, e.g. for ``SerpApiSource(sites=SOCIAL_MEDIA_SITES)``.
SOCIAL_MEDIA_SITES = (
    "instagram.com",
    "facebook.com",
    "x.com",
    "twitter.com",
    "pinterest.com",
    "reddit.com",
    "tiktok.com",
    "tumblr.com",
    "flickr.com",
)


def clean_site(site: str) -> str:
    """``site`` as a bare lower-case host: no scheme, no ``www.``, no trailing ``/``.

    Raises :class:`~img2img.errors.ConfigurationError` for anything that is not a
    host name (spaces, quotes and parentheses would also break a ``site:`` query).
    """
    text = site.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.removeprefix("www.").rstrip("/")
    if not text or "." not in text or FORBIDDEN_IN_SITE & set(text):
        raise ConfigurationError(f"not a site for a site: filter: {site!r}")
    return text


def clean_sites(sites: Iterable[str]) -> tuple[str, ...]:
    """Every site cleaned by :func:`clean_site`; a lone string is refused, not split into letters."""
    if isinstance(sites, str):
        raise ConfigurationError("sites take a list of sites, not a string")
    return tuple(clean_site(site) for site in sites)


def on_sites(host: str | None, sites: Iterable[str]) -> bool:
    """Whether ``host`` is one of the cleaned ``sites`` or a subdomain of one."""
    if not host:
        return False
    host = host.lower().removeprefix("www.")
    return any(host == site or host.endswith("." + site) for site in sites)


def host_like(value: str | None) -> str | None:
    """``value`` lower-cased without ``www.`` when it looks like a host name (``pinterest.com``).

    Services name a site sometimes by host and sometimes by name
    (``"Wikimedia Commons"``); only the first is a domain.
    """
    if value and "." in value and not FORBIDDEN_IN_SITE & set(value) and "/" not in value:
        return value.lower().removeprefix("www.")
    return None
