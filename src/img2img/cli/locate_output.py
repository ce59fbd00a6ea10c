"""What ``locate`` prints: its claims, its cost, and a row per engine; tables and JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from img2img.cli.postings_tables import evidence_json
from img2img.cli.tables import link, site
from img2img.cli.text import plain

if TYPE_CHECKING:
    from rich.table import Table

    from img2img.locate.results import Claim, EngineReport, LocateReport

__all__ = ["claim_json", "claims_table", "engine_json", "engines_table", "report_json"]


def claim_json(claim: Claim) -> dict[str, Any]:
    """One claim that is not a posting, as JSON-ready data."""
    data = {
        key: value for key, value in asdict(claim).items() if key not in ("metadata", "evidence")
    }
    if claim.evidence is not None:
        data["evidence"] = evidence_json(claim.evidence)
    return data


def engine_json(engine: EngineReport) -> dict[str, Any]:
    """What one engine did, as JSON-ready data."""
    data = asdict(engine)
    data["elapsed_seconds"] = round(engine.elapsed_seconds, 3)
    data["status"] = "ok" if engine.ok else ("failed" if engine.error else "skipped")
    return data


def report_json(report: LocateReport) -> dict[str, Any]:
    """The cost of a lookup, stage by stage and engine by engine, as JSON-ready data."""
    lookup = report.lookup
    return {
        "searches": report.searches,
        "uploads": report.uploads,
        "claimed": lookup.claimed,
        "off_site": lookup.off_site,
        "kept": lookup.kept,
        "candidates": report.candidates,
        "known": report.known,
        "downloads": report.downloads,
        "verified": report.verified,
        "exact": report.exact,
        "different": report.different,
        "alike": report.alike,
        "failed": report.failed,
        "stored": report.stored,
        "lookup_seconds": round(lookup.elapsed_seconds, 3),
        "elapsed_seconds": round(report.elapsed_seconds, 3),
        "failures": [asdict(f) for f in report.failures],
        "engines": [engine_json(e) for e in report.engines],
    }


def claims_table(claims: tuple[Claim, ...], title: str) -> Table:
    """Claims that are not postings: site, why, and a link to the page."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("site", style="magenta")
    table.add_column("stage")
    table.add_column("why not", overflow="fold")
    table.add_column("link", overflow="fold", min_width=20)
    for claim in claims:
        table.add_row(
            site(claim.domain, claim.page_url or claim.image_url),
            claim.stage,
            plain(claim.reason),
            link(claim.page_url or claim.image_url),
        )
    return table


def engines_table(engines: tuple[EngineReport, ...]) -> Table:
    """One row per engine: its claims and what became of them, its cost and quota."""
    from rich.table import Table

    table = Table(title="engines", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("engine", "claims", "downloaded", "verified", "rejected", "new"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    table.add_column("searches", justify="right")
    table.add_column("quota left", justify="right")
    table.add_column("time", justify="right")
    table.add_column("status", overflow="fold")
    for e in engines:
        table.add_row(
            e.engine,
            str(e.claims),
            str(e.downloaded),
            str(e.verified),
            str(e.rejected),
            str(e.new),
            str(e.searches),
            "?" if e.quota_left is None else str(e.quota_left),
            f"{e.elapsed_seconds:.1f}s",
            plain(e.status),
        )
    return table
