"""Which engines ``locate`` asks when none are named: every installed one whose key is set.

An engine says whether it is set up with a class method ``configured()``, or
names its credential in ``key_env``; one that asks for it (``asked_by_default =
False``, as Google's older reverse search does, since Lens already asks Google)
is only asked by name. Engines come from the registry, so an engine installed
from another package is asked too once its key is set.
"""

from __future__ import annotations

import os
from typing import Any

import img2img.registry as registry
from img2img.errors import Img2ImgError
from img2img.protocols import ReverseImageSource

__all__ = ["configured_engines", "is_configured"]


def is_configured(engine: Any) -> bool:
    """Whether ``engine`` (a class) has what it needs to search, by its own word."""
    configured = getattr(engine, "configured", None)
    if callable(configured):
        return bool(configured())
    variable = getattr(engine, "key_env", None)
    return isinstance(variable, str) and bool(os.environ.get(variable, "").strip())


def configured_engines() -> list[ReverseImageSource]:
    """An instance of every installed engine that is configured and asked by default,
    in the registry's order; an engine whose package fails to import is left out."""
    engines: list[ReverseImageSource] = []
    for registration in registry.available("reverse_source").values():
        try:
            engine = registration.load()
        except Img2ImgError:
            continue
        if getattr(engine, "asked_by_default", True) and is_configured(engine):
            engines.append(engine())
    return engines
