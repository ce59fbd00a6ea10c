"""``locate``: where a picture is posted on the web, asked of every engine at once, verified, kept."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.markup import escape

from img2img.cli.adapter_options import AdapterOptions
from img2img.cli.command import Command
from img2img.cli.exits import ExitCode, UsageError, exit_code_for
from img2img.cli.locate_output import claim_json, claims_table, engines_table, report_json
from img2img.cli.networks import add_allow_network, fetcher_for
from img2img.cli.parser import positive_int
from img2img.cli.postings_tables import posting_json, postings_table
from img2img.cli.progress import ClaimsProgressBar
from img2img.cli.reports import add_html_option, write_report
from img2img.cli.thresholds import add_threshold_options, thresholds_from
from img2img.report.placement import relation_counts

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.locate.results import Located, LocateReport
    from img2img.protocols import ReverseImageSource

__all__ = ["ENGINE_OPTIONS", "LOCATE", "exit_code_of"]

#: ``--engine`` and the options of every installed reverse source.
ENGINE_OPTIONS = AdapterOptions("reverse_source", "--engine", many=True)
#: Stages whose failure means part of what the user asked for was not done.
_ASKED_STAGES = frozenset({"embed", "store"})


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a path or an http(s) URL of the picture to look for")
    parser.add_argument(
        "--similar",
        action="store_true",
        help="also ask for alike pictures (one more search per engine that offers it); "
        "copies among them are kept",
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
    parser.add_argument(
        "--max-searches",
        type=int,
        metavar="N",
        help="paid searches in all, across engines; an engine that would exceed it is skipped",
    )
    ENGINE_OPTIONS.add_to(
        parser,
        help="the engines to ask, comma-separated or repeated (default: every engine whose "
        "key is set)",
    )
    add_threshold_options(parser)
    add_html_option(parser)
    add_allow_network(parser)


def _engines(args: argparse.Namespace) -> tuple[list[ReverseImageSource], bool]:
    """The engines to ask, built from their options, and whether the user named them."""
    from img2img.locate.choice import configured_engines

    named = ENGINE_OPTIONS.names_given(args)
    if named:
        chosen = ENGINE_OPTIONS.chosen_many(args, named)
        return [engine.from_options(values) for _, engine, values in chosen], True
    if ENGINE_OPTIONS.given(args):
        raise UsageError("engine options need --engine naming the engines they are for")
    engines = configured_engines()
    if not engines:  # no key at all: Lens, whose options say which key it needs
        _, lens, values = ENGINE_OPTIONS.chosen(args, name="lens")
        return [lens.from_options(values)], True
    return engines, False


def _show(session: Session, found: Located) -> None:
    out = session.out
    if found:
        kinds = relation_counts(p.relation for p in found)
        out.show(postings_table(found, title=f"{len(found)} postings, verified: {kinds}"))
    else:
        out.show("no page the engines named shows this picture")
    if found.alike:
        out.show(claims_table(found.alike, "alike, another picture"))
    if found.rejected:
        out.show(claims_table(found.rejected, "claimed, not postings"))
    if found.report.engines:
        out.show(engines_table(found.report.engines))
    stored = f" [dim]→ {escape(str(session.spec))}[/]" if found.report.stored else ""
    out.show(f"[bold]{escape(str(found.report))}[/]{stored}")


def _run(session: Session) -> int:
    args = session.args
    if args.max_searches is not None and args.max_searches < 0:
        raise UsageError(f"--max-searches must be 0 or more, got {args.max_searches}")
    # Before a model or store is touched: each engine checks its options and credentials.
    engines, named = _engines(args)
    client = session.client(fetcher=fetcher_for(session))
    with ClaimsProgressBar(
        session.out.errors, "Checking claims", enabled=session.out.progress_enabled
    ) as bar:
        found = client.locate(
            args.image,
            engines=engines,
            similar=args.similar,
            index=args.index,
            sites=args.site or (),
            limit=args.limit,
            thresholds=thresholds_from(args),
            max_searches=args.max_searches,
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
    return exit_code_of(found.report, engines_named=named)


def exit_code_of(report: LocateReport, *, engines_named: bool = False) -> int:
    """0 unless part of what was asked failed: 3 (or 1 if nothing was done) when a
    copy could not be embedded or stored, or an engine the user named failed or was
    skipped. A claimed page that is gone or is no image is the web's state, listed
    with its reason, not a failure; so is an engine asked only because its key is set."""
    asked = sum(1 for failure in report.failures if failure.stage in _ASKED_STAGES)
    code = exit_code_for(report.verified + report.different + report.alike, asked)
    if engines_named and report.failed_engines and code == ExitCode.OK:
        return ExitCode.PARTIAL
    return code


LOCATE = Command(
    "locate",
    "where a picture is posted on the web: every engine whose key is set (or --engine), "
    "each claimed page verified, copies kept",
    _configure,
    _run,
    store="write",
)
