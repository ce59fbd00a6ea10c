"""What a report shows, as plain values the template lays out: no HTML is built here.

Every string that came from the web (titles, URLs, reasons) stays a string here;
the template escapes it. Only links with a scheme a reader can safely follow
(``http``, ``https``, ``file``) become links: a ``javascript:`` URL stays text.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.request import url2pathname

from img2img.models import Evidence, Metadata, Posting
from img2img.report.placement import Box, describe_place, region_box
from img2img.report.thumbnails import Thumbnail

__all__ = [
    "Card",
    "Folded",
    "Group",
    "Report",
    "dates_of",
    "describe_evidence",
    "engines_of",
    "outline_points",
    "safe_href",
    "site_of",
]

_FOLLOWABLE = frozenset({"http", "https", "file"})


@dataclass(frozen=True, slots=True)
class Card:
    """One picture on the page: a posting, a match, or the query itself."""

    thumbnail: Thumbnail | None
    title: str
    site: str
    href: str | None
    link_text: str
    image_href: str | None = None
    relation: str = ""
    score: float | None = None
    size: str = ""
    dates: tuple[tuple[str, str], ...] = ()
    engines: tuple[str, ...] = ()
    evidence: str = ""
    #: The SVG polygon's points in a 0..1 box over the thumbnail ("x,y x,y ..."), or "".
    outline: str = ""
    #: Where the picture sits in words, when it does not fill the posting, or "".
    place: str = ""
    #: The region the verifier matched, as SVG points like ``outline``, or "".
    region: str = ""
    #: A word shown on the card and used as its class, e.g. "new" for a watch check.
    mark: str = ""


@dataclass(frozen=True, slots=True)
class Folded:
    """A claim or candidate that is not a posting, shown folded away with its reason."""

    site: str
    href: str | None
    link_text: str
    reason: str
    stage: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """The postings of one picture, shown together."""

    heading: str
    cards: tuple[Card, ...]
    note: str = ""
    #: The picture the group is about, shown above it (a watched picture).
    picture: Card | None = None
    #: Drawn folded away, opened by a click (postings that are gone).
    folded: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """One page: the question at the top, then groups of cards, then what was set aside."""

    kind: str
    heading: str
    query: Card | None
    query_text: str = ""
    summary: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()
    folded: tuple[tuple[str, tuple[Folded, ...]], ...] = field(default_factory=tuple)
    empty: str = "nothing found"


def safe_href(url: str | None) -> str | None:
    """``url`` if a reader may follow it (http, https, file), else ``None``."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url if scheme in _FOLLOWABLE else None


def link_text(url: str | None) -> str:
    """What to show for a link: a local file's path, else the URL."""
    if not url:
        return ""
    parts = urlsplit(url)
    return url2pathname(parts.path) if parts.scheme == "file" else url


def site_of(domain: str | None, url: str | None) -> str:
    """The site to show: a local file's folder (not ``localhost``), else the domain."""
    if url and url.startswith("file:"):
        path = link_text(url)
        return path.rsplit("/", 1)[0] or "/"
    return domain or ""


def _day(seconds: object) -> str | None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%d")


def dates_of(metadata: Metadata) -> tuple[tuple[str, str], ...]:
    """``(label, YYYY-MM-DD)`` for when the picture was first seen and when it was indexed."""
    dates: list[tuple[str, str]] = []
    for key, label in (("first_seen", "first seen"), ("indexed_at", "indexed")):
        day = _day(metadata.get(key))
        if day is not None:
            dates.append((label, day))
    if not any(label == "first seen" for label, _ in dates):
        said = metadata.get("lens_date")
        if isinstance(said, str) and said:
            dates.insert(0, ("dated", said))
    return tuple(dates)


def engines_of(metadata: Metadata) -> tuple[str, ...]:
    """The search engines or sources that found the picture, as stored with it."""
    names: list[str] = []
    engines = metadata.get("engines")
    if isinstance(engines, list):
        names.extend(str(e) for e in engines)
    for key in ("engine", "found_by", "source"):
        value = metadata.get(key)
        if isinstance(value, str) and value and value not in names:
            names.append(value)
    claimed = metadata.get("claimed_as")
    if isinstance(claimed, str) and names:
        names[-1] = f"{names[-1]} ({claimed})"
    return tuple(names)


def describe_evidence(evidence: Evidence | None, relation: str) -> str:
    """The verifier's figures in words: how many points agree, over how much of the frame."""
    if evidence is None:
        return "same bytes" if relation == "exact" else ""
    parts = [f"{evidence.inliers} points agree over {evidence.coverage:.0%}"]
    if abs(evidence.scale - 1) > 0.05:
        parts.append(f"scale {evidence.scale:.2f}")
    if abs(evidence.rotation) >= 1:
        parts.append(f"rotated {evidence.rotation:+.0f}°")
    if evidence.mirrored:
        parts.append("mirrored")
    if evidence.model != "similarity":
        parts.append(f"{evidence.model} fit")
    return ", ".join(parts)


def outline_points(corners: Sequence[tuple[float, float]]) -> str:
    """Corner fractions as an SVG ``points`` list in a 0..1 box; "" for fewer than 3."""
    if len(corners) < 3:
        return ""
    return " ".join(f"{x:.4f},{y:.4f}" for x, y in corners)


def posting_card(posting: Posting, thumbnail: Thumbnail | None) -> Card:
    """A card for a posting: provenance, relation, dates, engines and the outline of the fit."""
    url = posting.page_url or posting.image_url
    evidence = posting.evidence
    size = f"{posting.width}x{posting.height}" if posting.width and posting.height else ""
    return Card(
        thumbnail=thumbnail,
        title=posting.title or "",
        site=site_of(posting.domain, url),
        href=safe_href(url),
        link_text=link_text(url),
        image_href=safe_href(posting.image_url),
        relation=posting.relation,
        score=posting.score,
        size=size,
        dates=dates_of(posting.metadata),
        engines=engines_of(posting.metadata),
        evidence=describe_evidence(evidence, posting.relation),
        outline=outline_points(evidence.corner_fractions()) if evidence is not None else "",
        place=describe_place(evidence, posting.relation),
        region=_box_points(region_box(evidence, posting.relation)),
    )


def _box_points(box: Box | None) -> str:
    if box is None:
        return ""
    left, top, right, bottom = box
    return outline_points(((left, top), (right, top), (right, bottom), (left, bottom)))


def metadata_str(metadata: Mapping[str, object], key: str) -> str:
    value = metadata.get(key)
    return value if isinstance(value, str) else ""
