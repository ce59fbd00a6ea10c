"""One option that picks an adapter by name (``--source``, ``--embedder``, ``--engine``),
and the options each installed adapter of that kind declares.

The names are the registry's (:mod:`img2img.registry`); the options come from
each adapter class (:mod:`img2img.options`). An option two adapters declare is
one option of both, listed under "options of several". An adapter that cannot be
imported is left out of the choices and ``--help``, so one broken package does
not break the command; asking for it by name says why it is missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import img2img.registry as registry
from img2img.cli.exits import UsageError
from img2img.errors import ConfigurationError, Img2ImgError
from img2img.options import Option, OptionValues, command_options

__all__ = ["AdapterOptions"]

_PREFIX = "adapter_option__"


class AdapterOptions:
    """``selector NAME`` choosing an adapter of ``kind``, and every adapter's own options."""

    def __init__(
        self,
        kind: registry.AdapterKind,
        selector: str,
        *,
        default: str | None = None,
        many: bool = False,
    ) -> None:
        self.kind = kind
        self.selector = selector
        self.default = default
        #: Whether several adapters may be chosen at once (``--engine a,b`` or repeated).
        self.many = many
        self._loaded: dict[str, Any] | None = None
        self.broken: dict[str, Img2ImgError] = {}

    @property
    def dest(self) -> str:
        return self.selector.lstrip("-").replace("-", "_")

    def adapters(self) -> dict[str, Any]:
        """Every adapter of this kind that imports, by name."""
        if self._loaded is None:
            self._loaded = {}
            for name, registration in registry.available(self.kind).items():
                try:
                    self._loaded[name] = registration.load()
                except Img2ImgError as exc:
                    self.broken[name] = exc
                except Exception as exc:  # a package's bug must not stop every command
                    self.broken[name] = ConfigurationError(
                        f"{registration.describe()} fails to import: {exc!r}"
                    )
        return self._loaded

    def _declared(self) -> dict[str, dict[str, Option]]:
        """Each option name, and the adapters that declare it with their declaration."""
        found: dict[str, dict[str, Option]] = {}
        for name, adapter in self.adapters().items():
            for option in command_options(adapter):
                found.setdefault(option.name, {})[name] = option
        return found

    def _options(self) -> dict[str, tuple[Option, list[str]]]:
        """Each option name, its first declaration, and the adapters that take it."""
        return {
            key: (next(iter(users.values())), list(users))
            for key, users in self._declared().items()
        }

    def add_to(self, parser: argparse.ArgumentParser, *, help: str, suppress: bool = False) -> None:
        """Add the selector and every adapter's options to ``parser``."""
        names = tuple(self.adapters())
        default: Any = argparse.SUPPRESS if suppress else None
        parser.add_argument(
            self.selector,
            metavar="NAME[,NAME…]" if self.many else "NAME",
            default=default,
            action="append" if self.many else "store",
            help=f"{help}; installed: {', '.join(names) or 'none'}",
        )
        options = self._options()
        groups: dict[str, Any] = {}
        for name, adapter in self.adapters().items():
            note = getattr(adapter, "command_note", "")
            title = f"{self.selector} {name}" + (f" ({note})" if note else "")
            # A repeat of global options (``suppress``) needs no help groups: each costs ~1 ms.
            groups[name] = parser if suppress else parser.add_argument_group(title)
        shared: Any = parser if suppress else None
        for key, (option, users) in options.items():
            if len(users) == 1:
                self._add(groups[users[0]], option, option.help, default)
                continue
            if shared is None:
                shared = parser.add_argument_group(f"options of several {self.selector} choices")
            helps = [f"{user}: {each.help}" for user, each in self._declared()[key].items()]
            self._add(shared, option, "; ".join(helps), default)

    def _add(self, group: Any, option: Option, help: str, default: Any) -> None:
        kwargs: dict[str, Any] = {"dest": _PREFIX + option.dest, "default": default, "help": help}
        if option.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(metavar=option.metavar or option.dest.upper(), type=option.type)
            if option.repeatable:
                kwargs["action"] = "append"
        try:
            group.add_argument(option.flag_text, **kwargs)
        except argparse.ArgumentError as exc:
            raise ConfigurationError(
                f"the {self.kind.replace('_', ' ')} option {option.flag_text} clashes with "
                f"one of the command's own: {exc}"
            ) from exc

    def chosen(
        self, args: argparse.Namespace, *, name: str | None = None
    ) -> tuple[str, Any, OptionValues]:
        """The adapter the selector (or ``name``) names, its class, and its options' values.

        Raises ``UsageError`` for an unknown name, another adapter's option, or
        a value outside an option's choices.
        """
        name = name or getattr(args, self.dest, None) or self.default
        adapters = self.adapters()
        if name is None or name not in adapters:
            if name in self.broken:
                raise self.broken[name]
            known = ", ".join(adapters) or "none"
            kind = self.kind.replace("_", " ")
            raise UsageError(f"{self.selector} {name}: no such {kind} is installed ({known} are)")
        values: dict[str, Any] = {}
        for option, users in self._options().values():
            value = getattr(args, _PREFIX + option.dest, None)
            if value in (None, False):
                continue
            if name not in users:
                others = " or ".join(f"{self.selector} {user}" for user in users)
                raise UsageError(
                    f"{option.flag_text} is an option of {others}, not of {self.selector} {name}"
                )
            values[option.dest] = tuple(value) if isinstance(value, list) else value
        _check_choices(command_options(adapters[name]), values, f"{self.selector} {name}")
        return name, adapters[name], values

    def names_given(self, args: argparse.Namespace) -> list[str]:
        """The adapters named with the selector (``a,b`` and repeats), in order, each once."""
        given = getattr(args, self.dest, None) or []
        texts = given if isinstance(given, list) else [given]
        names = [name.strip() for text in texts for name in str(text).split(",")]
        return list(dict.fromkeys(name for name in names if name))

    def chosen_many(
        self, args: argparse.Namespace, names: Sequence[str]
    ) -> list[tuple[str, Any, OptionValues]]:
        """Each of ``names``, its class and the values of the options given for it.

        Raises ``UsageError`` for an unknown name, an option none of them takes,
        or a value outside an option's choices.
        """
        chosen: list[tuple[str, Any, OptionValues]] = []
        for name in names:
            adapters = self.adapters()
            if name not in adapters:
                return [self.chosen(args, name=name)]  # raises, saying what is installed
            values: dict[str, Any] = {}
            for option, users in self._options().values():
                value = getattr(args, _PREFIX + option.dest, None)
                if value in (None, False):
                    continue
                if not set(users) & set(names):
                    others = " or ".join(f"{self.selector} {user}" for user in users)
                    raise UsageError(f"{option.flag_text} is an option of {others}")
                if name in users:
                    values[option.dest] = tuple(value) if isinstance(value, list) else value
            _check_choices(command_options(adapters[name]), values, f"{self.selector} {name}")
            chosen.append((name, adapters[name], values))
        return chosen

    def given(self, args: argparse.Namespace) -> bool:
        """Whether the selector or any adapter's option was given."""
        return getattr(args, self.dest, None) is not None or any(
            getattr(args, _PREFIX + option.dest, None) not in (None, False)
            for option, _ in self._options().values()
        )


def _check_choices(options: Sequence[Option], values: OptionValues, who: str) -> None:
    for option in options:
        value = values.get(option.dest)
        if option.choices and value is not None and value not in option.choices:
            raise UsageError(
                f"{who} takes {option.flag_text} {', '.join(option.choices)}; not {value!r}"
            )
