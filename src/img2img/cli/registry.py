"""Every subcommand of ``img2img``, in the order ``--help`` lists them.

To add one, write a module in :mod:`img2img.cli.commands` defining a
:class:`~img2img.cli.command.Command`, and add it here.
"""

from __future__ import annotations

from img2img.cli.command import Command
from img2img.cli.commands.indexing import ADD, INDEX, SYNC
from img2img.cli.commands.inventory import DELETE, INFO, LIST
from img2img.cli.commands.locating import LOCATE
from img2img.cli.commands.plugins import PLUGINS
from img2img.cli.commands.postings import DUPLICATES, POSTINGS
from img2img.cli.commands.searching import SEARCH, SEARCH_TEXT
from img2img.cli.commands.watching import WATCH

__all__ = ["COMMANDS"]

COMMANDS: tuple[Command, ...] = (
    ADD,
    INDEX,
    SYNC,
    SEARCH,
    SEARCH_TEXT,
    POSTINGS,
    LOCATE,
    DUPLICATES,
    WATCH,
    INFO,
    LIST,
    DELETE,
    PLUGINS,
)
