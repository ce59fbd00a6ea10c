"""Reading a whole store: what it holds, counted, and the records a filter selects.

Both read the store a page at a time (``VectorStore.scan``), so memory holds
one page and the counts, however large the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from img2img.filters import compile_filter
from img2img.models import EmbeddingSpace, Filter, Metadata, VectorRecord
from img2img.postings.region_records import is_region
from img2img.protocols import VectorStore

__all__ = ["NO_VALUE", "StoreStats", "matching_records", "source_of", "store_stats"]

#: How records without a keyphrase (or domain) are counted.
NO_VALUE = "(none)"


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What a store holds: ``count`` records of one embedding ``space``.

    ``by_keyphrase``, ``by_domain`` and ``by_source`` count the records per
    value, most frequent first; records without the field count under
    :data:`NO_VALUE`. The source of a record is its ``source`` metadata field
    when a source recorded one, else ``file`` for local files and ``web`` for
    images downloaded over http(s).
    """

    count: int
    space: EmbeddingSpace | None
    by_keyphrase: Mapping[str, int] = field(default_factory=dict)
    by_domain: Mapping[str, int] = field(default_factory=dict)
    by_source: Mapping[str, int] = field(default_factory=dict)


def source_of(metadata: Metadata) -> str:
    """How a record came in: its ``source`` field, else ``file`` or ``web`` by its URL."""
    recorded = metadata.get("source")
    if isinstance(recorded, str) and recorded:
        return recorded
    url = metadata.get("image_url")
    scheme = urlsplit(url).scheme if isinstance(url, str) else ""
    return {"file": "file", "http": "web", "https": "web"}.get(scheme, NO_VALUE)


def _text(metadata: Metadata, key: str) -> str:
    value = metadata.get(key)
    return value if isinstance(value, str) and value else NO_VALUE


def store_stats(store: VectorStore, *, batch_size: int = 1000) -> StoreStats:
    """Count the records of ``store`` by keyphrase, domain and source."""
    keyphrases: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    count = 0
    for page in store.scan(batch_size=batch_size):
        for record in page:
            if is_region(record.metadata):  # a composite's region, not a picture
                continue
            count += 1
            keyphrases[_text(record.metadata, "keyphrase")] += 1
            domains[_text(record.metadata, "domain")] += 1
            sources[source_of(record.metadata)] += 1
    return StoreStats(
        count=count,
        space=store.embedding_space(),
        by_keyphrase=dict(keyphrases.most_common()),
        by_domain=dict(domains.most_common()),
        by_source=dict(sources.most_common()),
    )


def matching_records(
    store: VectorStore, filter: Filter | None = None, *, batch_size: int = 1000
) -> Iterator[VectorRecord]:
    """Every record of ``store`` whose metadata satisfies ``filter``, in the store's order.

    The filter is validated before the store is read: a malformed one raises
    :class:`~img2img.errors.InvalidFilterError` at the first ``next()``.
    """
    selected = compile_filter(filter)
    for page in store.scan(batch_size=batch_size):
        for record in page:
            if selected.matches_everything or selected(record.metadata):
                yield record
