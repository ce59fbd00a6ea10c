"""``postings`` and ``duplicates``: where the same picture is posted, verified."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from img2img.cli.command import Command
from img2img.cli.exits import ExitCode
from img2img.cli.parser import json_filter, positive_int
from img2img.cli.postings_tables import group_rows, posting_json, postings_table, unverified_table
from img2img.cli.reports import add_html_option, write_report
from img2img.cli.thresholds import add_threshold_options, thresholds_from

if TYPE_CHECKING:
    from img2img.cli.session import Session

__all__ = ["DUPLICATES", "POSTINGS"]

_SORTS = ("match", "newest", "oldest", "size", "score")


def _configure_postings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a path or an http(s) URL of the picture to look for")
    parser.add_argument(
        "-k", type=positive_int, default=50, help="nearest images to verify (default: 50)"
    )
    parser.add_argument(
        "--sort", choices=_SORTS, default="match", help="order of the postings (default: match)"
    )
    parser.add_argument("--filter", type=json_filter, metavar="JSON", help="only these records")
    add_html_option(parser)
    add_threshold_options(parser)


def _run_postings(session: Session) -> int:
    args = session.args
    found = session.client().find_postings(
        args.image,
        k=args.k,
        filter=args.filter,
        sort_by=args.sort,
        thresholds=thresholds_from(args),
    )
    write_report(session, found, query=args.image)
    if session.out.as_json:
        session.out.json(
            {
                "candidates": found.candidates,
                "postings": [posting_json(p) for p in found],
                "unverified": [asdict(u) for u in found.unverified],
            }
        )
    else:
        if found:
            session.out.show(postings_table(found))
        else:
            session.out.show(f"no postings of this picture among {found.candidates} candidates")
        if found.unverified:
            session.out.show(unverified_table(found.unverified))
    return ExitCode.OK


def _configure_duplicates(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-k", type=positive_int, default=10, help="neighbours compared per image (default: 10)"
    )
    parser.add_argument("--filter", type=json_filter, metavar="JSON", help="only these records")
    add_html_option(parser)
    add_threshold_options(parser)


def _run_duplicates(session: Session) -> int:
    args = session.args
    groups = list(
        session.client().duplicates(k=args.k, filter=args.filter, thresholds=thresholds_from(args))
    )
    write_report(session, groups, kind="duplicates")
    if session.out.as_json:
        session.out.json([group_rows(group) for group in groups])
        return ExitCode.OK
    count = 0
    for count, group in enumerate(groups, start=1):
        session.out.show(
            postings_table(group.postings, title=f"picture {count}: {len(group)} postings")
        )
    if count == 0:
        session.out.show("no picture is posted more than once")
    return ExitCode.OK


POSTINGS = Command(
    "postings",
    "where the same picture is posted: exact and verified copies, with evidence",
    _configure_postings,
    _run_postings,
)
DUPLICATES = Command(
    "duplicates",
    "every picture stored more than once, grouped",
    _configure_duplicates,
    _run_duplicates,
    uses_model=False,
)
