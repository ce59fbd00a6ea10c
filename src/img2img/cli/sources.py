"""Where ``img2img index`` finds images: ``--source NAME``, any source installed.

The sources are those of the ``img2img.sources`` entry points
(:mod:`img2img.registry`); each class declares its own options
(:mod:`img2img.options`), listed in ``--help`` in a group per source. An option
of another source is a usage error, so a typo in ``--source`` is not silently a
different search. Credentials come only from the environment, never from flags,
to keep them out of shell history; the source checks them when it is built,
before any model or store is touched.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from img2img.cli.adapter_options import AdapterOptions
from img2img.options import iso_time, require_env

if TYPE_CHECKING:
    from img2img.protocols import ImageSource

__all__ = [
    "DEFAULT_SOURCE",
    "SOURCE_OPTIONS",
    "add_source_options",
    "build_source",
    "iso_time",
    "require_env",
]

DEFAULT_SOURCE = "google"

#: ``--source`` and the options of every installed source.
SOURCE_OPTIONS = AdapterOptions("source", "--source", default=DEFAULT_SOURCE)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--source`` and every source's own options, one help group per source."""
    SOURCE_OPTIONS.add_to(
        parser, help="where to look (default: google, Google Images through SerpAPI)"
    )


def build_source(args: argparse.Namespace) -> tuple[str, ImageSource]:
    """The title of the ``--source`` chosen and the source, built by its class from its options.

    Raises :class:`~img2img.options.OptionError` for options that do not fit.
    """
    name, adapter, values = SOURCE_OPTIONS.chosen(args)
    source: Any = adapter.from_options(values, keyphrase=args.keyphrase)
    return str(getattr(adapter, "command_title", name)), source
