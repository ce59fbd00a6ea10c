"""What an adapter tells the ``img2img`` command: its options, and how to build it from them.

The command knows no adapter by heart. It finds them by name in
:mod:`img2img.registry` and asks each class for what it takes on the command
line, so an adapter installed from another package gets its options, its
``--help`` group and its checks the same way the built-in ones do::

    class FeedSource:
        command_title = "a JSON feed"
        command_options = (Option("feed", "the feed's URL", metavar="URL"),)

        @classmethod
        def from_options(cls, values, *, keyphrase):
            return cls(values["feed"])

``values`` holds only the options given, by :attr:`Option.dest`; a repeatable
option's value is a tuple. Each kind takes its own keyword arguments:

- a source (``--source NAME``): ``from_options(values, *, keyphrase)``;
- a reverse source (``locate --engine NAME``): ``from_options(values)``;
- an embedder (``--embedder NAME``): ``from_options(values, *, recorded)``, where
  ``recorded`` is the model id a store already holds (``None`` for a new store),
  and the class method ``builds(model_id)`` says whether it can rebuild that id;
- a store (``--store NAME://LOCATION``): ``from_options(location, *, create)``,
  raising :class:`~img2img.errors.StoreNotFoundError` when ``create`` is false
  and nothing is at ``location``.

Every attribute is optional except ``from_options``. Options that do not fit
raise :class:`OptionError` (the command exits with its usage code);
:func:`require_env` refuses a missing credential before anything heavy starts.
"""

from __future__ import annotations

import argparse
import datetime
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from img2img.errors import ConfigurationError

__all__ = [
    "Option",
    "OptionError",
    "OptionValues",
    "command_options",
    "iso_time",
    "positive_int",
    "require_env",
    "utc",
]

#: The options given to one adapter, by ``dest``: only those given.
OptionValues = Mapping[str, Any]


class OptionError(ConfigurationError):
    """The command-line options given to an adapter do not fit together."""


@dataclass(frozen=True)
class Option:
    """One command-line option of an adapter: ``--NAME``.

    ``type`` converts the text (and raises ``ValueError`` or
    ``argparse.ArgumentTypeError`` for a bad one); ``repeatable`` options
    collect a tuple; a ``flag`` takes no value and is ``True`` when given.
    ``choices`` are checked after parsing, so two adapters may share an
    option name with choices of their own.
    """

    name: str
    help: str
    metavar: str | None = None
    type: Callable[[str], Any] = str
    repeatable: bool = False
    flag: bool = False
    choices: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        """The key of this option in ``values``."""
        return self.name.replace("-", "_")

    @property
    def flag_text(self) -> str:
        return f"--{self.name}"


def command_options(adapter: Any) -> tuple[Option, ...]:
    """The options ``adapter`` (a class) declares; none if it declares none."""
    options = getattr(adapter, "command_options", ())
    found = tuple(options() if callable(options) else options)
    for option in found:
        if not isinstance(option, Option):
            raise ConfigurationError(
                f"{adapter.__qualname__}.command_options holds {option!r}, not an Option"
            )
    return found


def require_env(variable: str, why: str, where: str = "") -> str:
    """The value of credential ``variable``; ``ConfigurationError`` in one line when unset.

    ``why`` says what needs it, ``where`` where to find one, e.g.
    ``"(your key is at https://serpapi.com/manage-api-key)"``.
    """
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(f"{why}: set {variable}" + (f" {where}" if where else ""))
    return value


def number_type(
    convert: Callable[[str], Any],
    *,
    least: float | None = None,
    most: float | None = None,
    refusal: str = "",
) -> Callable[[str], Any]:
    """An option type: ``convert`` (``int`` or ``float``) of the text, kept from ``least``
    to ``most``; ``refusal`` words a value out of range (``{value}`` is the text given)."""
    what = "a whole number" if convert is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        too_low = least is not None and not value >= least  # NaN is out of every range
        if too_low or (most is not None and not value <= most):
            if refusal:
                raise argparse.ArgumentTypeError(refusal.format(value=text))
            bound = f"at least {least:g}" if most is None else f"from {least:g} to {most:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


#: An option type: an integer of at least 1.
positive_int = number_type(int, least=1)


def iso_time(text: str) -> str:
    """An option type: an ISO 8601 date or time (``2026-01-31``, ``2026-01-31T18:00:00Z``)."""
    try:
        datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T18:00:00Z"
        ) from None
    return text.strip()


def utc(text: str) -> datetime.datetime:
    """An :func:`iso_time` value as a time; a naive one is taken as UTC."""
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
