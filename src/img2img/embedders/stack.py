"""Importing the packages a model runs on, with one clear error when one is missing or broken.

A model stack can be broken in ways an ``ImportError`` does not cover: a
torchvision built for another torch raises ``RuntimeError`` at import, a
native library that does not load raises ``OSError``. Each becomes one
:class:`~img2img.errors.ModelUnavailableError` naming the package to repair,
which ends a run at once instead of failing every image alike.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from img2img.errors import MissingDependencyError, ModelUnavailableError

__all__ = ["import_model_package"]


def import_model_package(
    module: str, *, package: str, needed_by: str, install: str = ""
) -> ModuleType:
    """Import ``module`` (installed by the distribution ``package``) for ``needed_by``.

    ``install`` is what to run when it is missing (default ``pip install
    PACKAGE``). Raises :class:`MissingDependencyError` when it is not installed
    and :class:`ModelUnavailableError` when it is installed but fails to import.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            broken = exc.name.split(".")[0]
            raise ModelUnavailableError(
                f"{package} is installed but cannot be imported: it needs {broken} "
                f"({exc}); repair it with: pip install --force-reinstall {package}"
            ) from exc
        raise MissingDependencyError(
            f"{needed_by} needs {package}: {install or f'pip install {package}'}"
        ) from exc
    except Exception as exc:  # a broken build raises RuntimeError, OSError and others at import
        raise ModelUnavailableError(
            f"{package} is installed but broken ({type(exc).__name__}: {exc}); "
            f"repair it with: pip install --force-reinstall {package}"
        ) from exc
