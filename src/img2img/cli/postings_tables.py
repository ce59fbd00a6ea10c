"""Postings and duplicate groups as rich tables for people, and as plain data for ``--json``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from img2img.cli.tables import link, site
from img2img.cli.text import plain
from img2img.report.placement import describe_place, place_json
from img2img.report.views import describe_evidence

if TYPE_CHECKING:
    from rich.table import Table

    from img2img.models import Evidence, PictureGroup, Posting, Unverified

__all__ = ["evidence_json", "group_rows", "posting_json", "postings_table", "unverified_table"]


def evidence_json(evidence: Evidence, relation: str | None = None) -> dict[str, Any]:
    """A verification's evidence as JSON-ready data, floats to four places, with where
    the picture sits as fractions of the posting (``corner_fractions``, ``box``)."""
    data = {
        key: round(value, 4) if isinstance(value, float) else value
        for key, value in asdict(evidence).items()
    }
    data.update(place_json(evidence, relation))
    return data


def posting_json(posting: Posting) -> dict[str, Any]:
    """One posting as JSON-ready data: provenance, relation, score and evidence."""
    data = {
        key: value
        for key, value in asdict(posting).items()
        if key not in ("metadata", "evidence") and value is not None
    }
    data["score"] = round(posting.score, 6)
    if posting.engines:
        data["engines"] = list(posting.engines)
    if posting.evidence is not None:
        data["evidence"] = evidence_json(posting.evidence, posting.relation)
    if posting.region is not None:
        data["region"] = list(posting.region)
    return data


def group_rows(group: PictureGroup) -> dict[str, Any]:
    """One picture and every posting of it, as JSON-ready data."""
    data: dict[str, Any] = {"score": round(group.score, 6)}
    if group.query_relation is not None:
        data["query_relation"] = group.query_relation
    data["postings"] = [posting_json(p) for p in group.postings]
    return data


def _how(posting: Posting) -> str:
    """The verifier's figures, the fit, and where one picture sits in the other."""
    said = describe_evidence(posting.evidence, posting.relation)
    if posting.region is not None and posting.relation == "contains":
        left, top, right, bottom = posting.region
        place = f"in the query at ({left},{top})-({right},{bottom})"
    else:
        place = describe_place(posting.evidence, posting.relation)
    return f"{said}, {place}" if said and place else said or place


def postings_table(postings: Sequence[Posting], *, title: str | None = None) -> Table:
    """Rank, relation, size, site, how it was verified, and a link to each posting."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", style="bold")
    table.add_column("relation")
    table.add_column("size", justify="right")
    table.add_column("site", style="magenta")
    table.add_column("evidence", overflow="fold")
    table.add_column("link", overflow="fold", min_width=20)
    for rank, posting in enumerate(postings, start=1):
        size = f"{posting.width}x{posting.height}" if posting.width and posting.height else ""
        table.add_row(
            str(rank),
            posting.relation,
            size,
            site(posting.domain, posting.page_url or posting.image_url),
            _how(posting),
            link(posting.page_url or posting.image_url),
        )
    return table


def unverified_table(unverified: Sequence[Unverified]) -> Table:
    """Candidates that could not be checked, and why."""
    from rich.table import Table

    table = Table(title="not verified", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("score", justify="right")
    table.add_column("link", overflow="fold")
    table.add_column("reason", overflow="fold")
    for item in unverified:
        table.add_row(
            f"{item.score:.3f}", link(item.page_url or item.image_url), plain(item.reason)
        )
    return table
