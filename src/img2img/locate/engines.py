"""Asking several reverse-search engines at once, within a budget of paid searches.

    answers = ask_engines(query, [lens, tineye, yandex], kinds=("exact",), limit=100,
                          budget=Budget(max_searches=3))
    for answer in answers:
        print(answer.engine, answer.lookup, answer.error, answer.skipped)

Each engine runs on a thread of its own: a slow or failing engine holds up no
other, and its failure is kept in its :class:`EngineAnswer` instead of raised.
Searches are reserved before any is sent, in the order the engines are given,
so ``max_searches`` is never exceeded, whatever finishes first. An engine
whose quota (``quota()``, where it has one) is spent, that offers none of
the kinds asked for, or that cannot see a local picture (``sees_local_images()``
false) is skipped and says why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from img2img.arguments import check_whole
from img2img.errors import ConfigurationError, Img2ImgError
from img2img.models import MatchKind, ReverseLookup, UploadedImage
from img2img.protocols import ReverseImageSource
from img2img.reverse import reverse_lookup

__all__ = ["Budget", "EngineAnswer", "ask_engines", "engine_name"]

#: Seconds SerpAPI serves a repeated search from its cache, free of charge.
SERPAPI_CACHE_SECONDS = 3600.0


def engine_name(engine: ReverseImageSource) -> str:
    """The name an engine goes by in reports: its ``name``, else its class name."""
    name = getattr(engine, "name", None)
    return name if isinstance(name, str) and name else type(engine).__name__


def _kinds_offered(engine: ReverseImageSource) -> tuple[MatchKind, ...]:
    kinds = getattr(engine, "kinds", ("exact", "similar"))
    return tuple(kinds)


def _searches_per_kind(engine: ReverseImageSource, limit: int) -> int:
    count = getattr(engine, "searches_for", None)
    if callable(count):
        value = count(limit)
        if isinstance(value, int) and value >= 1:
            return value
    return 1


def _cache_seconds(engine: ReverseImageSource) -> float:
    """How long the engine answers a repeated search for free (0 when it never does)."""
    params = getattr(engine, "params", {})
    if getattr(engine, "key_env", "") != "SERPAPI_API_KEY":
        return 0.0
    if isinstance(params, dict) and params.get("no_cache") == "true":
        return 0.0
    return SERPAPI_CACHE_SECONDS


class Budget:
    """Paid searches a ``locate`` may spend in all (``None``: no cap), and repeats that cost nothing.

    A search repeated within an engine's cache time (SerpAPI keeps identical
    searches an hour and does not charge them) is free: ``recent`` remembers
    when each was sent. Share one budget between calls to carry that memory.
    """

    def __init__(
        self, max_searches: int | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_searches is not None:
            check_whole("max_searches", max_searches, least=0)
        self.max_searches = max_searches
        self.spent = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, str], float] = {}

    def reserve(
        self, searches: int, *, repeat_key: tuple[str, str] | None, free_for: float
    ) -> int | None:
        """Take ``searches`` from the budget; the number taken (0 for a cached repeat), or
        ``None`` when they do not fit."""
        with self._lock:
            now = self._clock()
            if repeat_key is not None and free_for > 0:
                sent = self._recent.get(repeat_key)
                if sent is not None and now - sent < free_for:
                    return 0
            if self.max_searches is not None and self.spent + searches > self.max_searches:
                return None
            self.spent += searches
            if repeat_key is not None and free_for > 0:
                self._recent[repeat_key] = now
            return searches

    @property
    def left(self) -> int | None:
        with self._lock:
            return None if self.max_searches is None else self.max_searches - self.spent


@dataclass(frozen=True, slots=True)
class EngineAnswer:
    """What one engine said: its claims (``lookup``), or why it has none.

    ``error`` is the failure in words (a bad key, a spent quota, an outage)
    and ``error_type`` its class name; ``skipped`` says why the engine was not
    asked (the budget, its quota, the kinds it offers). ``searches`` counts the
    paid searches it was allowed (0 for a cached repeat); ``quota_left`` is
    what the engine last said of its searches left, when it says.
    """

    engine: str
    lookup: ReverseLookup | None = None
    error: str | None = None
    error_type: str | None = None
    skipped: str | None = None
    searches: int = 0
    quota_left: int | None = None
    elapsed_seconds: float = 0.0
    kinds: tuple[MatchKind, ...] = field(default=())
    #: The failure itself, for a caller that asked one engine and wants it raised.
    exception: Img2ImgError | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.lookup is not None


def _quota_left(engine: ReverseImageSource) -> int | None:
    """Searches left as the engine says, or ``None``; a failing quota call says nothing."""
    quota = getattr(engine, "quota", None)
    if not callable(quota):
        return None
    try:
        remaining = quota().remaining
    except Img2ImgError:
        return None
    return remaining if isinstance(remaining, int) else None


def _plan(
    engine: ReverseImageSource,
    query: str | bytes | UploadedImage,
    wanted: Sequence[MatchKind],
    limit: int,
    budget: Budget,
) -> EngineAnswer | tuple[tuple[MatchKind, ...], int, int | None]:
    """The kinds to ask and the searches reserved for them, or an answer saying why not."""
    name = engine_name(engine)
    kinds = tuple(k for k in wanted if k in _kinds_offered(engine))
    if not kinds:
        offered = " and ".join(_kinds_offered(engine))
        return EngineAnswer(name, skipped=f"offers {offered} searches only")
    sees = getattr(engine, "sees_local_images", None)
    if isinstance(query, bytes) and callable(sees) and not sees():
        return EngineAnswer(name, skipped="needs a public URL of the picture (or an uploader)")
    quota = _quota_left(engine)
    needed = _searches_per_kind(engine, limit) * len(kinds)
    if quota is not None and quota < needed:
        return EngineAnswer(name, skipped=f"quota spent ({quota} searches left)", quota_left=quota)
    repeat = (name, query) if isinstance(query, str) else None
    taken = budget.reserve(needed, repeat_key=repeat, free_for=_cache_seconds(engine))
    if taken is None:
        return EngineAnswer(
            name, skipped=f"budget: {needed} searches needed, {budget.left} left", quota_left=quota
        )
    return kinds, taken, quota


def _ask(
    engine: ReverseImageSource,
    query: str | bytes | UploadedImage,
    kinds: tuple[MatchKind, ...],
    limit: int,
    sites: Sequence[str],
    searches: int,
    quota_before: int | None,
) -> EngineAnswer:
    name = engine_name(engine)
    started = time.perf_counter()
    try:
        lookup = reverse_lookup(
            query,
            engine,
            exact="exact" in kinds,
            similar="similar" in kinds,
            limit=limit,
            sites=sites,
        )
    except Img2ImgError as exc:
        return EngineAnswer(
            name,
            error=str(exc),
            error_type=type(exc).__name__,
            exception=exc,
            searches=searches,
            elapsed_seconds=time.perf_counter() - started,
            kinds=kinds,
        )
    return EngineAnswer(
        name,
        lookup=lookup,
        searches=searches,
        # Known before asking: what is left now follows, with no second call to the
        # engine; otherwise the engine's replies may have said (SauceNAO's do).
        quota_left=(
            max(0, quota_before - lookup.report.searches)
            if quota_before is not None
            else _quota_left(engine)
        ),
        elapsed_seconds=time.perf_counter() - started,
        kinds=kinds,
    )


def ask_engines(
    query: str | bytes,
    engines: Sequence[ReverseImageSource],
    *,
    kinds: Sequence[MatchKind] = ("exact",),
    limit: int = 100,
    sites: Sequence[str] = (),
    budget: Budget | None = None,
) -> list[EngineAnswer]:
    """Ask every engine about ``query`` (an ``http(s)`` URL or image bytes) at once.

    Returns one :class:`EngineAnswer` per engine, in the order given.
    Failures of one engine (any :class:`~img2img.errors.Img2ImgError`) are in
    its answer; nothing is raised for them.

    Raises:
        ConfigurationError: no engines, or two with the same name.
    """
    if not engines:
        raise ConfigurationError("locate needs at least one reverse-search engine")
    names = [engine_name(e) for e in engines]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"each engine may be asked once, got {names}")
    budget = budget if budget is not None else Budget()
    plans = [_plan(engine, query, kinds, limit, budget) for engine in engines]
    answers: list[EngineAnswer | None] = [p if isinstance(p, EngineAnswer) else None for p in plans]
    asked = [i for i, plan in enumerate(plans) if not isinstance(plan, EngineAnswer)]
    if asked:
        with ThreadPoolExecutor(len(asked), thread_name_prefix="img2img-engine") as pool:
            futures = {}
            for i in asked:
                plan = plans[i]
                assert not isinstance(plan, EngineAnswer)
                chosen, searches, quota = plan
                futures[i] = pool.submit(
                    _ask, engines[i], query, chosen, limit, sites, searches, quota
                )
            for i, future in futures.items():
                answers[i] = future.result()
    return [answer for answer in answers if answer is not None]
