"""``search`` and ``search-text``: the nearest stored images to a picture or to words."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from img2img.cli.command import Command
from img2img.cli.exits import ExitCode
from img2img.cli.parser import cosine, json_filter, positive_int
from img2img.cli.postings_tables import group_rows, postings_table
from img2img.cli.reports import add_html_option, write_report
from img2img.cli.tables import match_rows, matches_table
from img2img.report.placement import query_relation_words

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.models import Match, PictureGroup

__all__ = ["SEARCH", "SEARCH_TEXT"]


def _search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=positive_int, default=5, help="how many matches (default: 5)")
    parser.add_argument(
        "--filter",
        type=json_filter,
        metavar="JSON",
        help='only records whose metadata match, e.g. \'{"domain": {"$in": ["x.com"]}}\'',
    )
    parser.add_argument(
        "--min-score", type=cosine, metavar="S", help="drop matches scoring below S (-1 to 1)"
    )
    add_html_option(parser)


def _show(session: Session, matches: list[Match]) -> int:
    if session.out.as_json:
        session.out.json(match_rows(matches))
    elif matches:
        session.out.show(matches_table(matches))
    else:
        session.out.show("no matches")
    return ExitCode.OK


def _show_groups(session: Session, groups: list[PictureGroup]) -> int:
    if session.out.as_json:
        session.out.json([group_rows(group) for group in groups])
        return ExitCode.OK
    for number, group in enumerate(groups, start=1):
        what = query_relation_words(group.query_relation)
        title = f"picture {number}, {what} (score {group.score:.3f}): {len(group)} postings"
        session.out.show(postings_table(group.postings, title=title))
    if not groups:
        session.out.show("no matches")
    return ExitCode.OK


def _store_is_empty(session: Session) -> bool:
    if session.store.count() > 0:
        return False
    session.out.note(f"The store {session.spec} holds no images yet.")
    return True


def _configure_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a path or an http(s) URL of the image to look for")
    _search_options(parser)
    parser.add_argument(
        "--group",
        action="store_true",
        help="one row group per picture: verified copies of each picture together",
    )


def _run_search(session: Session) -> int:
    args = session.args
    if _store_is_empty(session):
        return _show(session, [])
    if args.group:
        groups = session.client().search(
            args.image, k=args.k, filter=args.filter, min_score=args.min_score, group=True
        )
        write_report(session, groups, query=args.image)
        return _show_groups(session, groups)
    matches = session.client().search(
        args.image, k=args.k, filter=args.filter, min_score=args.min_score
    )
    write_report(session, matches, query=args.image)
    return _show(session, matches)


def _configure_search_text(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="a description, e.g. 'a red bicycle against a wall'")
    _search_options(parser)


def _words_need_clip(session: Session) -> None:
    """Refuse words on a store whose model reads only pictures, saying what to run instead."""
    from img2img.errors import ConfigurationError
    from img2img.protocols import TextEmbedder

    embedder = session.embedder
    if isinstance(embedder, TextEmbedder):
        return
    store = f"--store {session.args.store} " if session.args.store else ""
    raise ConfigurationError(
        f"this store holds {embedder.model_id} vectors, a model that reads pictures, not "
        f"words. Search it by a picture: img2img {store}search PHOTO. To search by words, "
        "make a CLIP store of the same images: img2img --store clip.sqlite3 --embedder clip "
        "add FOLDER, then img2img --store clip.sqlite3 search-text 'WORDS'"
    )


def _run_search_text(session: Session) -> int:
    args = session.args
    if _store_is_empty(session):
        return _show(session, [])
    _words_need_clip(session)
    matches = session.client().search_text(
        args.text, k=args.k, filter=args.filter, min_score=args.min_score
    )
    write_report(session, matches, query_text=args.text)
    return _show(session, matches)


SEARCH = Command(
    "search",
    "find stored images like an image: copies first, then look-alikes",
    _configure_search,
    _run_search,
)
SEARCH_TEXT = Command(
    "search-text",
    "find stored images that fit a description (needs a CLIP store)",
    _configure_search_text,
    _run_search_text,
)
