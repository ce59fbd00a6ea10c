"""How ``img2img postings`` and ``img2img duplicates`` print: for people, or as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from img2img.models import PictureGroup, Posting, Postings

__all__ = ["posting_json", "print_duplicates", "print_postings"]


def posting_json(posting: Posting) -> dict[str, Any]:
    """One posting as JSON-ready data: provenance, relation, score and evidence."""
    data = {
        key: value
        for key, value in asdict(posting).items()
        if key not in ("metadata", "evidence") and value is not None
    }
    data["score"] = round(posting.score, 6)
    if posting.evidence is not None:
        evidence = asdict(posting.evidence)
        data["evidence"] = {
            key: round(value, 4) if isinstance(value, float) else value
            for key, value in evidence.items()
        }
    return data


def _describe(posting: Posting) -> str:
    where = posting.page_url or posting.image_url
    size = f"{posting.width}x{posting.height}" if posting.width and posting.height else "?"
    line = f"{posting.relation:5}  {size:>9}  {posting.domain or '-':20} {where}"
    evidence = posting.evidence
    if evidence is not None:
        line += (
            f"\n       {evidence.inliers} keypoints agree over {evidence.coverage:.0%}, "
            f"scale {evidence.scale:.2f}, rotated {evidence.rotation:+.0f}"
            + (", mirrored" if evidence.mirrored else "")
        )
    return line


def print_postings(postings: Postings, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "candidates": postings.candidates,
                    "postings": [posting_json(p) for p in postings],
                    "unverified": [asdict(u) for u in postings.unverified],
                },
                indent=2,
            )
        )
        return
    if not postings:
        print(f"no postings of this picture among {postings.candidates} candidates")
    for rank, posting in enumerate(postings, start=1):
        print(f"{rank:3}. {_describe(posting)}")
    for missing in postings.unverified:
        print(f"  unverified: {missing.page_url or missing.image_url}: {missing.reason}")


def print_duplicates(groups: Iterable[PictureGroup], as_json: bool) -> int:
    """Print groups as they come (a JSON array when ``as_json``); returns how many."""
    count = 0
    if as_json:
        print("[", end="")
    for count, group in enumerate(groups, start=1):
        if as_json:
            separator = "," if count > 1 else ""
            body = json.dumps({"postings": [posting_json(p) for p in group.postings]}, indent=2)
            print(f"{separator}\n{body}", end="")
            continue
        print(f"picture {count}: {len(group)} postings")
        for posting in group.postings:
            print(f"  {_describe(posting)}")
    if as_json:
        print("\n]")
    elif count == 0:
        print("no picture is posted more than once")
    return count
