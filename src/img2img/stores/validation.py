"""Checks every store applies before it writes or queries, so all refuse alike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from img2img.errors import EmbeddingSpaceMismatchError, InvalidMetadataError, InvalidVectorError
from img2img.models import EmbeddingSpace, Metadata, MetadataValue, Vector, VectorRecord

__all__ = [
    "check_metadata",
    "check_query_vector",
    "check_same_space",
    "stack_records",
]

MAX_ID_LENGTH = 512  # Pinecone's limit; local stores keep it so data can move there.


def _check_vector(vector: object, dimension: int | None, what: str) -> Vector:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] == 0:
        raise InvalidVectorError(f"{what}: expected a 1-d vector, got shape {array.shape}")
    if dimension is not None and array.shape[0] != dimension:
        raise InvalidVectorError(f"{what}: expected dimension {dimension}, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise InvalidVectorError(f"{what}: vector holds NaN or infinite values")
    return array


def check_query_vector(vector: object, dimension: int | None) -> Vector:
    """Return ``vector`` as float32 ``(dim,)`` or raise ``InvalidVectorError``."""
    return _check_vector(vector, dimension, "query")


def check_metadata(record_id: str, metadata: Metadata) -> dict[str, MetadataValue]:
    """Refuse metadata Pinecone could not hold: nulls, nested objects, mixed lists."""
    clean: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or key.startswith("$"):
            # "$" would read as a filter operator: Pinecone refuses such keys.
            raise InvalidMetadataError(
                f"{record_id}: metadata keys are non-empty strings not starting with '$', got {key!r}"
            )
        if isinstance(value, (str, bool, int, float)):
            if isinstance(value, float) and not np.isfinite(value):
                raise InvalidMetadataError(f"{record_id}: metadata {key!r} is not finite")
            clean[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
            clean[key] = list(value)
        else:
            raise InvalidMetadataError(
                f"{record_id}: metadata {key!r} must be a string, number, boolean or list of "
                f"strings, got {type(value).__name__}"
            )
    return clean


def stack_records(
    records: Sequence[VectorRecord], dimension: int | None
) -> tuple[list[str], Vector, list[dict[str, MetadataValue]]]:
    """Validate a batch and return ids, a float32 ``(n, dim)`` matrix and clean metadata.

    Validates everything before returning, so a store that calls this first
    writes nothing when any record is bad. Later duplicates of an id win.
    """
    latest: dict[str, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record.id, str) or not record.id or len(record.id) > MAX_ID_LENGTH:
            raise InvalidVectorError(
                f"ids are non-empty strings of at most {MAX_ID_LENGTH} characters, got {record.id!r}"
            )
        latest[record.id] = index
    kept = [records[i] for i in sorted(latest.values())]
    if not kept:
        return [], np.zeros((0, dimension or 0), dtype=np.float32), []
    first = np.asarray(kept[0].vector)
    dim = dimension if dimension is not None or first.ndim == 0 else int(first.shape[-1])
    matrix = np.stack([_check_vector(r.vector, dim, f"record {r.id!r}") for r in kept])
    metadata = [check_metadata(r.id, r.metadata) for r in kept]
    return [r.id for r in kept], matrix, metadata


def check_same_space(recorded: EmbeddingSpace | None, wanted: EmbeddingSpace) -> None:
    """Raise ``EmbeddingSpaceMismatchError`` when a store already holds another space."""
    if recorded is not None and recorded != wanted:
        raise EmbeddingSpaceMismatchError(
            f"this store holds vectors of {recorded}, not {wanted}: vectors of different "
            "models cannot be compared. Use a separate store (another path, index or "
            "namespace) for this embedder, or the embedder the store was built with."
        )
