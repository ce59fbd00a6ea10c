"""What a subcommand is: a name, its arguments, how it runs, and what store it needs.

A new subcommand is one module defining a :class:`Command` and one line in
:mod:`img2img.cli.registry`; the parser, the store, the embedder and the exit
codes come from the shared machinery.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from img2img.cli.session import StoreAccess

if TYPE_CHECKING:
    from img2img.cli.session import Session

__all__ = ["Command"]


@dataclass(frozen=True)
class Command:
    """One subcommand of ``img2img``.

    ``configure`` adds the subcommand's own arguments to its parser; ``run``
    does the work through the :class:`~img2img.cli.session.Session` (which
    opens the store and builds the embedder on first use) and returns the
    exit code (see :mod:`img2img.cli.exits`).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Session], int]
    store: StoreAccess = "read"
    aliases: tuple[str, ...] = ()
    description: str | None = None
    uses_model: bool = True
