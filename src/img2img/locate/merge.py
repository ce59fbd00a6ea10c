"""Claims of several engines merged before anything is downloaded.

The same image URL claimed by three engines is one candidate: downloaded and
verified once, stored once, naming every engine that claimed it (``engines``)
and the earliest day any of them says it was first seen (``first_seen``, Unix
seconds). The first engine to claim it gives the rest of its provenance. A
claim from an ``exact`` search outranks the same image claimed as ``similar``.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from img2img.locate.engines import EngineAnswer
from img2img.models import ImageCandidate, MatchKind, MetadataValue
from img2img.provenance import image_id

__all__ = ["MergedClaim", "first_seen_of", "merge_claims"]

#: Where the engines put the day they first saw a page (ISO dates).
_DATE_FIELDS = ("first_seen_date", "lens_date_iso")


def first_seen_of(extra: Mapping[str, MetadataValue]) -> int | None:
    """Unix seconds of the date an engine gave for the page, if any."""
    for name in _DATE_FIELDS:
        value = extra.get(name)
        if not isinstance(value, str):
            continue
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError:
            continue
        return calendar.timegm(day.timetuple())
    return None


@dataclass
class MergedClaim:
    """One image claimed by one or more engines."""

    candidate: ImageCandidate
    kind: MatchKind
    engines: list[str] = field(default_factory=list)
    first_seen: int | None = None

    def tagged(self, sha256: str) -> ImageCandidate:
        """The candidate with what this lookup knows of it, stored with it if it verifies."""
        extra: dict[str, MetadataValue] = dict(self.candidate.extra)
        extra.setdefault("found_by", self.engines[0])
        extra["engines"] = list(self.engines)
        extra["claimed_as"] = self.kind
        extra["query_sha256"] = sha256
        if self.first_seen is not None:
            extra["first_seen"] = self.first_seen
        return replace(self.candidate, extra=extra)


def _claims_of(answer: EngineAnswer) -> Iterable[tuple[ImageCandidate, MatchKind]]:
    if answer.lookup is None:
        return ()
    kinds: Sequence[tuple[MatchKind, Sequence[ImageCandidate]]] = (
        ("exact", answer.lookup.exact),
        ("similar", answer.lookup.similar),
    )
    return [(candidate, kind) for kind, found in kinds for candidate in found]


def merge_claims(
    answers: Sequence[EngineAnswer], sha256: str
) -> dict[str, tuple[ImageCandidate, MatchKind]]:
    """Every engine's claims by record id, merged; in the engines' order, exact before similar.

    Returns candidates tagged with ``engines``, ``claimed_as``, ``query_sha256``
    and, where an engine gave a date, the earliest ``first_seen``.
    """
    merged: dict[str, MergedClaim] = {}
    for answer in answers:
        for candidate, kind in _claims_of(answer):
            id = image_id(candidate.image_url)
            seen = first_seen_of(candidate.extra)
            claim = merged.get(id)
            if claim is None:
                merged[id] = MergedClaim(candidate, kind, [answer.engine], seen)
                continue
            if answer.engine not in claim.engines:
                claim.engines.append(answer.engine)
            if kind == "exact" and claim.kind == "similar":
                claim.kind = "exact"
            if seen is not None and (claim.first_seen is None or seen < claim.first_seen):
                claim.first_seen = seen
    # Exact claims first, as one engine's would be; each keeps its place within its kind.
    ordered = sorted(merged.items(), key=lambda item: item[1].kind != "exact")
    return {id: (claim.tagged(sha256), claim.kind) for id, claim in ordered}
