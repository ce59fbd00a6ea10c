"""Where the query's picture sits in a posting, and what a group's relation to the query
means, in words: one wording for the command's tables, its JSON and the HTML report.

A relation is shown as it is named (``exact``, ``copy``, ``warped``, ``alike``, or any
the verifier learns later): nothing here lists every relation, so a new one is never
dropped or shown as another. Where the picture sits comes from the verifier's evidence:
the query's four corners under the accepted fit, or a region (a box in the posting's
pixels) when the verifier matched a part of the posting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from img2img.models import Evidence

__all__ = [
    "Box",
    "corner_box",
    "describe_place",
    "place_json",
    "placement",
    "query_relation_words",
    "region_box",
    "relation_counts",
]

#: ``(left, top, right, bottom)`` as fractions of the posting's width and height (0..1).
Box = tuple[float, float, float, float]

#: A box this close to every edge is the whole frame: nothing worth saying.
_WHOLE = 0.02


def _clipped(left: float, top: float, right: float, bottom: float) -> Box | None:
    box = tuple(round(min(1.0, max(0.0, v)), 4) for v in (left, top, right, bottom))
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    return box[0], box[1], box[2], box[3]


def corner_box(evidence: Evidence | None) -> Box | None:
    """The box around the query's fitted corners in the posting, clipped to its frame;
    ``None`` when the corners or the frame are unknown."""
    corners = evidence.corner_fractions() if evidence is not None else ()
    if len(corners) < 3:
        return None
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return _clipped(min(xs), min(ys), max(xs), max(ys))


def _numbers(region: object) -> Sequence[float] | None:
    """A region's ``(left, top, right, bottom)``, given as four numbers or as named fields."""
    if all(hasattr(region, name) for name in ("left", "top", "right", "bottom")):
        region = tuple(getattr(region, name) for name in ("left", "top", "right", "bottom"))
    if not isinstance(region, Sequence) or len(region) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in region):
        return None
    return [float(v) for v in region]


def region_box(evidence: Evidence | None, relation: str | None = None) -> Box | None:
    """The part of the posting the query is (its ``region``, in the posting's pixels,
    only when the relation is ``part``) as fractions of the posting; ``None`` when there
    is none, the region is in the query's pixels (``contains``) or the frame is unknown."""
    if relation != "part":
        return None
    numbers = _numbers(getattr(evidence, "region", None))
    frame = evidence.frame if evidence is not None else None
    if numbers is None or not frame or min(frame) <= 0:
        return None
    width, height = frame
    left, top, right, bottom = numbers
    return _clipped(left / width, top / height, right / width, bottom / height)


def placement(evidence: Evidence | None, relation: str | None = None) -> Box | None:
    """Where the query's picture sits in the posting: the matched region, else the fitted corners."""
    return region_box(evidence, relation) or corner_box(evidence)


def describe_place(evidence: Evidence | None, relation: str | None = None) -> str:
    """Where the picture sits, in words ("at 5-48 % across, 52-95 % down"); "" when it
    fills the posting or nobody knows."""
    box = placement(evidence, relation)
    if box is None:
        return ""
    left, top, right, bottom = box
    if max(left, top) <= _WHOLE and min(right, bottom) >= 1 - _WHOLE:
        return ""
    return f"at {left:.0%}-{right:.0%} across, {top:.0%}-{bottom:.0%} down"


def place_json(evidence: Evidence, relation: str | None = None) -> dict[str, Any]:
    """Where the picture sits, for JSON: the corners as fractions of the posting and the
    box around them (or around the matched region), when known."""
    data: dict[str, Any] = {}
    corners = evidence.corner_fractions()
    if corners:
        data["corner_fractions"] = [list(corner) for corner in corners]
    box = placement(evidence, relation)
    if box is not None:
        data["box"] = list(box)
    return data


def relation_counts(relations: Iterable[str]) -> str:
    """How many postings have each relation, in the order they first come: "3 copy, 1 warped"."""
    counts = Counter(relations)
    return ", ".join(f"{count} {relation}" for relation, count in counts.items())


def query_relation_words(relation: str | None) -> str:
    """What a grouped search's group is to the query, in words, for any relation."""
    if relation is None or relation == "alike":
        return "another picture"
    if relation == "exact":
        return "the query's own bytes"
    if relation == "copy":
        return "the query's picture"
    return f"the query's picture ({relation})"
