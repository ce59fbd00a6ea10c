"""``add --exclude PATTERN``: leave out files and URLs by shell-style pattern."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.adding import candidates_for
from img2img.models import ImageCandidate

__all__ = ["add_exclude_option", "excluded", "kept_candidates"]


def add_exclude_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out files whose name, folder or path matches PATTERN "
        "('*.gif', 'thumbnails', '*/drafts/*'); repeatable",
    )


def _where(candidate: ImageCandidate) -> str:
    url = candidate.image_url
    return url2pathname(urlsplit(url).path) if url.startswith("file:") else url


def excluded(candidate: ImageCandidate, patterns: Sequence[str]) -> bool:
    """Whether a pattern matches the candidate's file name, one of its folders, or
    its whole path (its URL, for a web image). Case matters, as on most file systems."""
    if not patterns:
        return False
    where = _where(candidate)
    parts = PurePosixPath(where.replace("\\", "/")).parts
    return any(
        fnmatchcase(where, pattern) or any(fnmatchcase(part, pattern) for part in parts)
        for pattern in patterns
    )


def kept_candidates(items: Iterable[str], patterns: Sequence[str]) -> Iterator[ImageCandidate]:
    """The candidates ``add`` would index from ``items``, less the excluded ones; lazily."""
    for candidate in candidates_for(items):
        if not excluded(candidate, patterns):
            yield candidate
