"""The embed stage: vectors for a batch, each new content embedded once, bad items isolated.

Runs on the calling thread. Bytes already embedded (same sha256, in this run
or an earlier one) reuse their vector; the rest go to the model in one call,
and if that call fails for a reason of the items', one at a time, so one bad
image fails alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from img2img.models import Vector
from img2img.pipeline.failures import is_systemic
from img2img.pipeline.items import Item
from img2img.pipeline.regions import region_rows, regions_by_owner
from img2img.pipeline.reuse import ContentIndex
from img2img.pipeline.tally import Tally
from img2img.protocols import Embedder

__all__ = ["Embedded", "embed_batch", "embed_isolated", "embed_rows"]


@dataclass(frozen=True, slots=True)
class Embedded:
    """A batch's vectors by sha256, the ids of the items the model embedded (the
    others with a vector reuse one), and the vectors of items' regions by item id."""

    vectors: dict[str, Vector]
    embedded_ids: frozenset[str]
    regions: dict[str, Vector] = field(default_factory=dict)


def embed_rows(embedder: Embedder, items: Sequence[Item]) -> Vector:
    """Vectors for ``items``: float32 ``(len(items), dim)``, prepared inputs batched together."""
    import numpy as np

    if all(item.prepared for item in items):
        vectors: Vector = embedder.embed_prepared([i.payload for i in items])  # type: ignore[attr-defined]
        return vectors
    if not any(item.prepared for item in items):
        return embedder.embed_images([item.payload for item in items])
    out = np.zeros((len(items), embedder.dimension), dtype=np.float32)
    for prepared in (True, False):
        rows = [n for n, item in enumerate(items) if item.prepared is prepared]
        out[rows] = embed_rows(embedder, [items[n] for n in rows])
    return out


def embed_isolated(items: Sequence[Item], tally: Tally, embedder: Embedder) -> list[Vector | None]:
    """One vector per item, ``None`` where embedding failed; a bad item is isolated by
    retrying one at a time."""
    if not items:
        return []
    try:
        vectors = embed_rows(embedder, items)
        if len(vectors) != len(items):
            raise ValueError(
                f"the embedder returned {len(vectors)} vectors for {len(items)} images"
            )
    except Exception as exc:
        if is_systemic(exc):
            raise
        if len(items) == 1:
            tally.fail(items[0].candidate.image_url, "embed", exc)
            return [None]
        return [embed_isolated([item], tally, embedder)[0] for item in items]
    tally.embedded += len(items)
    return list(vectors)


def embed_batch(
    batch: Sequence[Item], embedder: Embedder, known: ContentIndex, tally: Tally
) -> Embedded:
    """Vectors for ``batch``: known ones reused, new content embedded once per sha256.

    An item whose bytes are those of another that failed fails too, naming it.
    """
    vectors = known.lookup([item.sha256 for item in batch])
    first_of: dict[str, Item] = {}
    for item in batch:
        if item.sha256 not in vectors:
            first_of.setdefault(item.sha256, item)
    fresh = list(first_of.values())
    fresh_vectors, regions = _embed_with_regions(fresh, batch, tally, embedder)
    for item, vector in zip(fresh, fresh_vectors, strict=True):
        if vector is not None:
            vectors[item.sha256] = vector
            known.remember(item.sha256, vector)
    for item in batch:
        if item.sha256 not in vectors and first_of[item.sha256] is not item:
            reason = f"same bytes as {first_of[item.sha256].candidate.image_url}, which failed"
            tally.fail(item.candidate.image_url, "embed", Exception(reason))
    return Embedded(vectors, frozenset(item.id for item in fresh), regions)


def _embed_with_regions(
    fresh: Sequence[Item], batch: Sequence[Item], tally: Tally, embedder: Embedder
) -> tuple[list[Vector | None], dict[str, Vector]]:
    """Vectors of ``fresh`` and of the regions of ``batch``'s items, in one call of the
    model when it can: if that call fails, the images are embedded as if they had no
    regions, and the regions once more on their own (none if they fail again)."""
    rows = region_rows(batch)
    if not rows:
        return embed_isolated(fresh, tally, embedder), {}
    try:
        vectors = embed_rows(embedder, [*fresh, *rows])
        if len(vectors) != len(fresh) + len(rows):
            raise ValueError(f"the embedder returned {len(vectors)} vectors")
    except Exception as exc:
        if is_systemic(exc):
            raise
    else:
        tally.embedded += len(fresh)
        return list(vectors[: len(fresh)]), regions_by_owner(batch, vectors[len(fresh) :])
    images = embed_isolated(fresh, tally, embedder)
    try:  # a region only helps find its image: a failure leaves the image alone
        region_vectors = embed_rows(embedder, rows)
    except Exception as exc:
        if is_systemic(exc):
            raise
        return images, {}
    if len(region_vectors) != len(rows):
        return images, {}
    return images, regions_by_owner(batch, region_vectors)
