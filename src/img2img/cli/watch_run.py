"""``watch check``'s engines and sources, rebuilt from what each watched picture names.

Engines are built by name from the registry (with their keys from the
environment), plus every engine whose key is set for pictures that name none.
Sources are built with the options kept when the picture was added; pictures
whose sources share options are checked together, one budget for the whole run.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from img2img.cli.commands.locating import ENGINE_OPTIONS
from img2img.cli.sources import SOURCE_OPTIONS
from img2img.errors import Img2ImgError
from img2img.options import OptionError

if TYPE_CHECKING:
    from img2img.client import ImageSearchClient
    from img2img.protocols import ImageSource, ReverseImageSource
    from img2img.watch.book import WatchBook, WatchedPicture
    from img2img.watch.check import PictureCheck, WatchCheck

__all__ = ["failed_problems", "run_watch_check"]

_BUDGET_SKIP = " skipped: budget"
#: Said when a check could ask nothing at all: a cron job would stay silent for ever.
_NOTHING_TO_ASK = (
    "no engine to ask: none is named and none has its key set "
    "('img2img plugins' lists the engines and the keys they need)"
)


def _engines(pictures: Sequence[WatchedPicture]) -> tuple[list[ReverseImageSource], dict[str, str]]:
    """The engines the pictures name (and every configured one if a picture names none),
    and why each engine that could not be built was not."""
    from img2img.locate.choice import configured_engines
    from img2img.locate.engines import engine_name

    engines: list[ReverseImageSource] = []
    if any(not p.engines for p in pictures):
        engines = configured_engines()
    have = {engine_name(e) for e in engines}
    adapters = ENGINE_OPTIONS.adapters()
    broken: dict[str, str] = {}
    for name in dict.fromkeys(n for p in pictures for n in p.engines):
        if name in have:
            continue
        adapter = adapters.get(name)
        if adapter is None:
            broken[name] = "no such engine is installed"
            continue
        try:
            engines.append(adapter.from_options({}))
        except (Img2ImgError, OptionError) as exc:
            broken[name] = str(exc)
    return engines, broken


def _values(options: dict[str, Any]) -> dict[str, Any]:
    """Options read back from JSON: lists were tuples (repeatable options)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def _sources(
    names: Sequence[str], options: dict[str, dict[str, Any]], keyphrase: str
) -> tuple[dict[str, ImageSource], dict[str, str]]:
    adapters = SOURCE_OPTIONS.adapters()
    built: dict[str, ImageSource] = {}
    broken: dict[str, str] = {}
    for name in names:
        adapter = adapters.get(name)
        if adapter is None:
            broken[name] = "no such source is installed"
            continue
        try:
            built[name] = adapter.from_options(_values(options.get(name, {})), keyphrase=keyphrase)
        except (Img2ImgError, OptionError) as exc:
            broken[name] = str(exc)
    return built, broken


def failed_problems(check: WatchCheck) -> list[str]:
    """What failed in ``check``: engines and sources, not what the budget left out."""
    return [p for p in check.problems if _BUDGET_SKIP not in p]


def run_watch_check(
    client: ImageSearchClient, book: WatchBook, *, budget: int | None
) -> tuple[WatchCheck, list[str]]:
    """Check every watched picture; the check and what failed in it."""
    from img2img.watch.check import WatchCheck

    pictures = client.watched()
    engines, broken_engines = _engines(pictures)
    runs: dict[str, list[WatchedPicture]] = {}
    options_of: dict[str, dict[str, dict[str, Any]]] = {}
    for picture in pictures:
        options = {n: o for n, o in book.source_options(picture.id).items() if n in picture.sources}
        key = json.dumps([sorted(picture.sources), options, picture.keyphrase], sort_keys=True)
        runs.setdefault(key, []).append(picture)
        options_of[key] = options
    checks: dict[str, PictureCheck] = {}
    spent = 0
    for key, group in runs.items():
        first = group[0]
        sources, broken_sources = _sources(first.sources, options_of[key], first.keyphrase)
        left = None if budget is None else max(budget - spent, 0)
        part = client.check_watched(
            engines=engines, sources=sources, budget=left, pictures=[p.id for p in group]
        )
        spent += part.searches
        for each in part.pictures:
            said = [
                f"{name} could not be asked: {why}"
                for name, why in broken_engines.items()
                if name in each.picture.engines
            ] + [f"{name} could not be read: {why}" for name, why in broken_sources.items()]
            if not engines and not each.picture.sources:
                said.append(_NOTHING_TO_ASK)
            checks[each.picture.id] = dataclasses.replace(
                each,
                problems=tuple(p for p in each.problems if not _names_broken(p, broken_sources))
                + tuple(said),
            )
    ordered = tuple(checks[p.id] for p in pictures if p.id in checks)
    skipped = tuple(
        f"{c.picture.label}: {p}" for c in ordered for p in c.problems if _BUDGET_SKIP in p
    )
    check = WatchCheck(ordered, spent, budget, skipped)
    return check, failed_problems(check)


def _names_broken(problem: str, broken: dict[str, str]) -> bool:
    """The check's own word for a source that could not be built: said better by us."""
    return any(problem == f"{name}: no such source given" for name in broken)
