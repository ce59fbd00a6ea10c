"""How the ``img2img`` command prints reports and matches: for people, or as JSON."""

from __future__ import annotations

import json
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from img2img.models import IndexReport, Match

__all__ = ["print_matches", "print_report", "printable"]

#: Unicode categories that can drive a terminal or reorder text: controls (ESC
#: starts terminal commands), format characters (bidi overrides), separators.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
#: Format characters that only join glyphs (emoji sequences, Indic scripts): harmless.
_JOINERS = frozenset({"\u200c", "\u200d"})


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: titles and URLs come from strangers, and
    an escape sequence in one could rewrite the screen or the window title."""
    return "".join(
        ch
        if ch in _JOINERS or unicodedata.category(ch) not in _UNSAFE
        else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in text
    )


def print_report(report: IndexReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "discovered": report.discovered, "indexed": report.indexed, "skipped": report.skipped,
            "elapsed_seconds": round(report.elapsed_seconds, 3),
            "failures": [{"url": f.url, "stage": f.stage, "reason": f.reason} for f in report.failures],
        }, indent=2))  # fmt: skip
        return
    print(report)
    for failure in report.failures:
        print(f"  {failure.stage:8} {printable(failure.url)}: {printable(failure.reason)}")


def print_matches(matches: list[Match], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [{"id": m.id, "score": round(m.score, 6), **m.metadata} for m in matches], indent=2
            )
        )
        return
    if not matches:
        print("no matches")
    for rank, m in enumerate(matches, start=1):
        where = printable(m.page_url or m.image_url or "")
        print(f"{rank:3}. {m.score:.3f}  {printable(m.title or m.image_url or '')}\n     {where}")
