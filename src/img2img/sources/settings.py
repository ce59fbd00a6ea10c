"""Where a web source's service is and what credentials it has: arguments, else the environment.

Sources read their settings when they search, not when they are made, so a
source can be built before its variables are set; an empty variable counts as
unset.
"""

from __future__ import annotations

import os

from img2img.errors import ConfigurationError
from img2img.sources.fields import http_url

__all__ = ["both_or_neither", "required_setting", "service_url", "setting"]


def service_url(given: str | None, argument: str, env: str, default: str) -> str:
    """Where a service is: ``given``, else the environment variable ``env``, else ``default``.

    The variable sends a source through a gateway or proxy (a company's API
    gateway, a self-hosted server, a rate-limit proxy) without changing code.
    An empty variable counts as unset.

    Raises:
        ConfigurationError: the address is not an ``http(s)`` URL; the message
            names ``argument`` or ``env``, whichever gave it.
    """
    from_env = os.environ.get(env, "").strip()
    value, origin = (given, argument) if given is not None else (from_env or default, env)
    url = http_url(value)
    if url is None:
        raise ConfigurationError(f"{origin} must be an http(s) URL, got {value!r}")
    return url


def setting(given: str | None, env: str, *, scheme: str = "") -> str:
    """``given``, else the environment variable ``env``, stripped; ``""`` when neither is set.

    Sources read their credentials so when ``discover`` is called, so a source
    can be made before its variable is set. People paste a token as the value
    of its ``Authorization`` header, but the ``scheme`` before it (``"Bot "``,
    ``"Bearer "``) is ours to add, so a leading ``scheme`` is removed.
    """
    value = (given or os.environ.get(env, "")).strip()
    return value.removeprefix(scheme).strip()


def required_setting(given: str | None, env: str, problem: str, *, scheme: str = "") -> str:
    """:func:`setting`, which must be set.

    Raises:
        ConfigurationError: with the message ``problem``, when it is not.
    """
    value = setting(given, env, scheme=scheme)
    if not value:
        raise ConfigurationError(problem)
    return value


def both_or_neither(first: str, second: str, problem: str) -> tuple[str, str] | None:
    """Two settings that go together (a login and its password): both, or ``None`` for neither.

    Raises:
        ConfigurationError: with the message ``problem``, when only one is set;
            half a login is a mistake, not a choice to go without.
    """
    if bool(first) != bool(second):
        raise ConfigurationError(problem)
    return (first, second) if first else None
