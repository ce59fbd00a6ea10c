"""Keeping writes inside Pinecone's limits: metadata size per vector, request size and count.

Pure functions with no Pinecone import, so the rules can be tested and
documented on their own (see ``docs/adapters/pinecone.md``).

**Metadata rule.** Pinecone holds at most 40,960 bytes of metadata per vector.
We measure metadata as compact UTF-8 JSON and aim for :data:`METADATA_BUDGET`,
a little under the limit because the service does not publish its own
measure. A record over the budget is trimmed, in this order, until it fits:

1. ``title`` is cut to :data:`TITLE_LIMIT` characters (ending in "…");
2. other fields, except the provenance fields in :data:`PROTECTED`, are
   dropped, largest first (ties broken by name);
3. ``title`` is dropped.

The names of trimmed or dropped fields are stored under :data:`TRIMMED_KEY`.
If the record is still too big (its protected fields alone are over the
budget) it is refused with :class:`~img2img.errors.InvalidMetadataError`.
With ``trim=False`` every record over the budget is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from img2img.errors import InvalidMetadataError
from img2img.models import MetadataValue

__all__ = [
    "MAX_REQUEST_BYTES",
    "MAX_UPSERT_VECTORS",
    "METADATA_BUDGET",
    "METADATA_LIMIT",
    "PROTECTED",
    "TITLE_LIMIT",
    "TRIMMED_KEY",
    "batches",
    "encoded_size",
    "fit_metadata",
    "restore_numbers",
]

#: Pinecone's limit on metadata per vector, in bytes.
METADATA_LIMIT = 40_960
#: What we aim for, leaving room for differences in how the service measures.
METADATA_BUDGET = 40_000
#: Pinecone's limit on vectors per upsert request.
MAX_UPSERT_VECTORS = 1_000
#: What we aim for per request; Pinecone refuses requests over 2 MB.
MAX_REQUEST_BYTES = 2_000_000
#: Provenance fields that are never trimmed: without them a match cannot say where the image is.
PROTECTED = frozenset(
    {"image_url", "page_url", "domain", "sha256", "dhash", "keyphrase", "indexed_at"}
)
#: The longest title kept when metadata must be trimmed, in characters.
TITLE_LIMIT = 1_000
#: Metadata field listing what was trimmed to fit.
TRIMMED_KEY = "img2img_trimmed"

_INTEGERS_ARE_EXACT_UP_TO = 2**53  # Pinecone keeps numbers as 64-bit floats


def encoded_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: how requests and metadata are measured."""
    try:  # the pinecone SDK encodes requests with orjson: measure with it, ten times faster
        import orjson

        return len(orjson.dumps(value))
    except ImportError:  # pragma: no cover - orjson comes with pinecone
        pass
    except TypeError:  # e.g. an int beyond 64 bits; the stdlib measures it
        pass
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _with_note(metadata: dict[str, MetadataValue], trimmed: list[str]) -> dict[str, MetadataValue]:
    if not trimmed:
        return metadata
    return {**metadata, TRIMMED_KEY: sorted(set(trimmed))}


def fit_metadata(
    record_id: str,
    metadata: Mapping[str, MetadataValue],
    *,
    budget: int = METADATA_BUDGET,
    trim: bool = True,
) -> dict[str, MetadataValue]:
    """Return ``metadata`` made to fit in ``budget`` bytes by the rule in the module docstring.

    Raises :class:`~img2img.errors.InvalidMetadataError` when it cannot fit.
    ``metadata`` is expected to be valid already (see ``check_metadata``).
    """
    fitted = dict(metadata)
    size = encoded_size(fitted)
    if size <= budget:
        return fitted
    if not trim:
        raise InvalidMetadataError(
            f"{record_id}: metadata is {size} bytes; Pinecone holds at most {budget} per vector"
        )
    trimmed = list(metadata.get(TRIMMED_KEY, []) or [])  # type: ignore[arg-type]
    fitted.pop(TRIMMED_KEY, None)
    title = fitted.get("title")
    if isinstance(title, str) and len(title) > TITLE_LIMIT:
        fitted["title"] = title[: TITLE_LIMIT - 1] + "…"
        trimmed.append("title")
    droppable = sorted(
        (key for key in fitted if key not in PROTECTED and key != "title"),
        key=lambda key: (-encoded_size(fitted[key]), key),
    )
    for key in [*droppable, "title"]:
        if encoded_size(_with_note(fitted, trimmed)) <= budget:
            return _with_note(fitted, trimmed)
        if key in fitted:
            del fitted[key]
            trimmed.append(key)
    result = _with_note(fitted, trimmed)
    size = encoded_size(result)
    if size <= budget:
        return result
    largest = sorted(fitted, key=lambda key: -encoded_size(fitted[key]))[:3]
    raise InvalidMetadataError(
        f"{record_id}: metadata is still {size} bytes with only its provenance fields "
        f"({', '.join(largest)} are the largest); Pinecone holds at most {budget} per vector"
    )


def restore_numbers(metadata: Mapping[str, Any] | None) -> dict[str, MetadataValue]:
    """Metadata as read back from Pinecone, with whole numbers as ``int`` again.

    Pinecone returns every number as a float; the other stores give back the
    ints they were given, and so should this one.
    """
    restored: dict[str, MetadataValue] = {}
    for key, value in (metadata or {}).items():
        if (
            isinstance(value, float)
            and value.is_integer()
            and abs(value) <= _INTEGERS_ARE_EXACT_UP_TO
        ):
            restored[key] = int(value)
        else:
            restored[key] = value
    return restored


def batches(
    sizes: Sequence[int], *, max_count: int, max_bytes: int, overhead: int = 0
) -> Iterator[range]:
    """Split items into consecutive runs of at most ``max_count`` items whose
    sizes, plus one separator byte between items and ``overhead``, stay within
    ``max_bytes``. An item too big to share a request travels alone."""
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        count = index - start
        if count and (count >= max_count or used + 1 + size > max_bytes):
            yield range(start, index)
            start, used = index, overhead
        used += size + (1 if index > start else 0)
    if start < len(sizes):
        yield range(start, len(sizes))
