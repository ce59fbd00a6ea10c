"""``locate``: where a picture is posted on the web, through Google Lens, verified and kept."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from img2img.cli.command import Command
from img2img.cli.exits import exit_code_for
from img2img.cli.networks import add_allow_network, fetcher_for
from img2img.cli.parser import positive_int
from img2img.cli.postings_tables import evidence_json, posting_json, postings_table
from img2img.cli.progress import ClaimsProgressBar
from img2img.cli.reports import add_html_option, write_report
from img2img.cli.sources import require_env
from img2img.cli.tables import link, site
from img2img.cli.text import plain
from img2img.cli.thresholds import add_threshold_options, thresholds_from

if TYPE_CHECKING:
    from rich.table import Table

    from img2img.cli.session import Session
    from img2img.locate.results import Claim, Located, LocateReport

__all__ = ["LOCATE", "exit_code_of"]

#: Stages whose failure means part of what the user asked for was not done.
_ASKED_STAGES = frozenset({"embed", "store"})


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a path or an http(s) URL of the picture to look for")
    parser.add_argument(
        "--similar",
        action="store_true",
        help="also ask Lens for alike pictures (one more search); copies among them are kept",
    )
    parser.add_argument(
        "--no-index",
        dest="index",
        action="store_false",
        help="verify and show the postings, store nothing",
    )
    parser.add_argument(
        "--site",
        action="append",
        metavar="SITE",
        help="only pages on this site (and its subdomains); repeatable",
    )
    parser.add_argument(
        "-n",
        "--limit",
        type=positive_int,
        default=100,
        help="claims taken from each search (default: 100); fewer downloads, same cost",
    )
    parser.add_argument("--country", metavar="CC", help="Google country code, e.g. fr")
    parser.add_argument("--language", metavar="LANG", help="Google interface language, e.g. en")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="make SerpAPI search again rather than answer from its one-hour cache (costs a credit)",
    )
    add_allow_network(parser)
    add_html_option(parser)
    add_threshold_options(parser)


def claim_json(claim: Claim) -> dict[str, Any]:
    """One claim that is not a posting, as JSON-ready data."""
    data = {
        key: value for key, value in asdict(claim).items() if key not in ("metadata", "evidence")
    }
    if claim.evidence is not None:
        data["evidence"] = evidence_json(claim.evidence)
    return data


def report_json(report: LocateReport) -> dict[str, Any]:
    """The cost of a lookup, stage by stage, as JSON-ready data."""
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


def _show(session: Session, found: Located) -> None:
    out = session.out
    if found:
        out.show(postings_table(found, title=f"{len(found)} postings, verified"))
    else:
        out.show("no page Lens named shows this picture")
    if found.alike:
        out.show(claims_table(found.alike, "alike, another picture"))
    if found.rejected:
        out.show(claims_table(found.rejected, "claimed, not postings"))
    stored = f" [dim]→ {escape(str(session.spec))}[/]" if found.report.stored else ""
    out.show(f"[bold]{escape(str(found.report))}[/]{stored}")


def _run(session: Session) -> int:
    from img2img.sources.serpapi.google_lens import GoogleLensSource

    args = session.args
    # Before a model or store is touched.
    require_env("SERPAPI_API_KEY", "locate asks Google Lens through SerpAPI")
    lens = GoogleLensSource(
        country=args.country,
        language=args.language,
        no_cache=args.no_cache,
    )  # SERPAPI_BASE_URL, if set, is read by the source itself
    client = session.client(reverse_source=lens, fetcher=fetcher_for(session))
    with ClaimsProgressBar(
        session.out.errors, "Checking claims", enabled=session.out.progress_enabled
    ) as bar:
        found = client.locate(
            args.image,
            similar=args.similar,
            index=args.index,
            sites=args.site or (),
            limit=args.limit,
            thresholds=thresholds_from(args),
            progress=bar,
        )
    write_report(session, found, query=args.image)
    if session.out.as_json:
        session.out.json(
            {
                "store": str(session.spec),
                "postings": [posting_json(p) for p in found],
                "alike": [claim_json(c) for c in found.alike],
                "rejected": [claim_json(c) for c in found.rejected],
                "report": report_json(found.report),
            }
        )
    else:
        _show(session, found)
    return exit_code_of(found.report)


def exit_code_of(report: LocateReport) -> int:
    """0 unless part of what was asked failed: 3 (or 1 if nothing was done) when a
    copy could not be embedded or stored. A claimed page that is gone or is no
    image is the web's state, listed with its reason, not a failure."""
    asked = sum(1 for failure in report.failures if failure.stage in _ASKED_STAGES)
    return exit_code_for(report.verified + report.different + report.alike, asked)


LOCATE = Command(
    "locate",
    "where a picture is posted on the web: Google Lens, each page verified, copies kept "
    "(needs SERPAPI_API_KEY)",
    _configure,
    _run,
    store="write",
)
