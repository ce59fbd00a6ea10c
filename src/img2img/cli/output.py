"""How the ``img2img`` command prints reports and matches: for people, or as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from img2img.models import IndexReport, Match

__all__ = ["print_matches", "print_report"]


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
        print(f"  {failure.stage:8} {failure.url}: {failure.reason}")


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
        where = m.page_url or m.image_url
        print(f"{rank:3}. {m.score:.3f}  {m.title or m.image_url}\n     {where}")
