"""The argument checks every layer shares: whole numbers and timeouts.

Each check refuses a bad value at once with a :class:`~img2img.errors.ConfigurationError`
naming the argument, rather than as a ``TypeError`` from deep inside a run, and
returns the value so a constructor can check and keep it in one line. The module
imports nothing but the errors, so stores, the fetcher and sources use it alike.
"""

from __future__ import annotations

import math

from img2img.errors import ConfigurationError

__all__ = ["check_timeout", "check_whole"]


def check_whole(name: str, value: object, *, least: int = 1) -> int:
    """``value`` if it is an ``int`` of at least ``least`` (``True`` is not a number).

    Raises:
        ConfigurationError: naming ``name`` and the value, when it is not.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        bound = "a positive whole number" if least == 1 else f"a whole number of at least {least}"
        raise ConfigurationError(f"{name} must be {bound}, got {value!r}")
    return value


def check_timeout(timeout: object, *, name: str = "timeout") -> float:
    """``timeout`` (seconds) if it is a number above zero (``True`` and NaN are not).

    Raises:
        ConfigurationError: naming ``name`` and the value, when it is not.
    """
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or math.isnan(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {timeout!r}")
    return timeout
