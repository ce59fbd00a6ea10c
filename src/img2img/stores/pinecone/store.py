"""PineconeStore: vectors and their provenance in a Pinecone serverless index.

    store = PineconeStore("img2img", namespace="photos", create_if_missing=True)
    client = ImageSearchClient(embedder=ClipEmbedder(), store=store)

Writes are validated and fitted to Pinecone's limits before anything is sent
(see :mod:`img2img.stores.pinecone.fit`), then sent in batches of at most
1,000 vectors and 2 MB. The embedding space (model id and dimension) lives in a
reserved record in the namespace ``__img2img__``, one per data namespace, so it
never appears in queries or counts. SDK errors become :mod:`img2img.errors`
(see :mod:`img2img.stores.pinecone.calls`). ``docs/adapters/pinecone.md`` has
the whole story.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import numpy as np

from img2img.closing import Closing
from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    Img2ImgError,
    InvalidVectorError,
    ServiceError,
    StoreError,
    StoreFormatError,
    StoreNotFoundError,
)
from img2img.filters import compile_filter
from img2img.models import EmbeddingSpace, Filter, Match, Vector, VectorRecord
from img2img.net.retry import RetryPolicy
from img2img.options import require_env
from img2img.stores.paging import check_batch_size, records_in_pages
from img2img.stores.pinecone.calls import DEFAULT_RETRY, is_not_found
from img2img.stores.pinecone.connect import IndexConnection, IndexSettings
from img2img.stores.pinecone.fit import (
    MAX_REQUEST_BYTES,
    MAX_UPSERT_VECTORS,
    batches,
    encoded_size,
    fit_metadata,
    restore_numbers,
)
from img2img.stores.pinecone.pacing import RequestPace, run_paced
from img2img.stores.validation import check_query_vector, check_same_space, stack_records

__all__ = ["SPACE_NAMESPACE", "PineconeStore", "space_record_id"]

#: The namespace holding img2img's own records (the embedding space of each data namespace).
SPACE_NAMESPACE = "__img2img__"
_DEFAULT_NAMESPACE_NAMES = ("", "__default__")  # how stats name the default namespace
_MAX_TOP_K = 1_000  # Pinecone's ceiling on top_k when metadata is returned
_MAX_IDS = 1_000  # per fetch or delete request
_FETCH_URL_BUDGET = 4_000  # characters of ids in one fetch URL
_MAX_LIST_PAGE = 100  # Pinecone's ceiling on ids in one list page
#: Pinecone's limit on query requests per second in one namespace (a 429 past it).
QUERIES_PER_SECOND = 100.0


def space_record_id(namespace: str) -> str:
    """The id, in :data:`SPACE_NAMESPACE`, of the record holding ``namespace``'s embedding space."""
    return "space-" + hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:32]


def _pinecone_id(record_id: object) -> bool:
    """Whether Pinecone can hold this id at all (1-512 ASCII characters, no NUL)."""
    return (
        isinstance(record_id, str)
        and 0 < len(record_id) <= 512
        and record_id.isascii()
        and "\x00" not in record_id
    )


def _partial_write(
    error: Img2ImgError, ids: Sequence[str], written: int, failed_request: int, requests: int
) -> Img2ImgError:
    """``error`` again, saying which of ``ids`` were written before it and which were not.

    Requests go in order, so the written ones are a prefix of ``ids``. Writing
    them all again is safe: an upsert replaces by id.
    """
    if written:
        done = (
            f"the first {written:,} of {len(ids):,} vectors, up to id {ids[written - 1]!r}, "
            f"in {failed_request} of {requests} requests"
        )
        rest = f"the other {len(ids) - written:,}"
    else:
        done, rest = f"none of the {len(ids):,} vectors", f"all {len(ids):,}"
    message = (
        f"{error} (written: {done}; not confirmed: {rest}, ids {ids[written]!r} to "
        f"{ids[-1]!r}, as a request that timed out may still have been applied; "
        "upserting them again is safe)"
    )
    if isinstance(error, ServiceError):
        return type(error)(message, status_code=error.status_code)
    try:
        return type(error)(message)
    except TypeError:  # a subclass with another signature keeps its own message
        return error


class PineconeStore(Closing):
    """A ``VectorStore`` in a Pinecone index (cosine metric), one namespace per store.

    Args:
        index: the index name; its host is looked up through the control plane.
        host: the index host (e.g. ``https://img2img-abc123.svc.pinecone.io``);
            skips the lookup. Give ``index`` or ``host``.
        api_key: defaults to the ``PINECONE_API_KEY`` environment variable.
        namespace: where this store's vectors live; ``""`` is the default namespace.
        create_if_missing: create a serverless cosine index named ``index`` when
            there is none, of ``dimension`` or else of the first embedding space
            or vectors written. Until then the store reads as empty.
        dimension: the dimension to create the index with.
        cloud, region: where to create it.
        controller_host: the control-plane URL, for a gateway or a local
            emulator; defaults to ``PINECONE_CONTROLLER_HOST`` or Pinecone's API.
        timeout: seconds for one HTTP attempt.
        retry: our retries of throttling and outages, after the SDK's own.
        trim_metadata: fit oversized metadata by the documented rule; when
            ``False``, refuse it with ``InvalidMetadataError``.
        max_request_bytes: the size budget of one upsert request.
        query_concurrency: most query requests in flight at once in
            :meth:`query_many`.
        queries_per_second: the fastest :meth:`query_many` starts query
            requests (Pinecone allows 100 a second per namespace; lower it
            when other clients query the same namespace).
    """

    def __init__(
        self,
        index: str | None = None,
        *,
        host: str | None = None,
        api_key: str | None = None,
        namespace: str = "",
        create_if_missing: bool = False,
        dimension: int | None = None,
        cloud: str = "aws",
        region: str = "us-east-1",
        controller_host: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        trim_metadata: bool = True,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        query_concurrency: int = 8,
        queries_per_second: float = QUERIES_PER_SECOND,
    ) -> None:
        if not index and not host:
            raise ConfigurationError("PineconeStore needs an index name or an index host")
        if create_if_missing and not index:
            raise ConfigurationError("create_if_missing needs the index name")
        if namespace == SPACE_NAMESPACE:
            raise ConfigurationError(f"the namespace {SPACE_NAMESPACE!r} is reserved for img2img")
        if dimension is not None and dimension < 1:
            raise ConfigurationError(f"dimension must be positive, got {dimension}")
        if query_concurrency < 1:
            raise ConfigurationError(
                f"query_concurrency must be at least 1, got {query_concurrency}"
            )
        self._query_concurrency = query_concurrency
        self._pace = RequestPace(queries_per_second)
        key = api_key or os.environ.get("PINECONE_API_KEY", "")
        if not key:
            raise ConfigurationError(
                "Pinecone needs an API key: pass api_key= or set PINECONE_API_KEY"
            )
        self.index_name, self.host, self.namespace = index, host, namespace
        self._trim, self._max_request_bytes = trim_metadata, max_request_bytes
        self._planned_dimension = dimension
        self._connection = IndexConnection(
            IndexSettings(
                name=index,
                host=host,
                api_key=key,
                controller_host=controller_host,
                timeout=timeout,
                retry=retry,
                create_if_missing=create_if_missing,
                dimension=dimension,
                cloud=cloud,
                region=region,
            )
        )
        self._lock = threading.RLock()
        self._space: EmbeddingSpace | None = None

    def __repr__(self) -> str:
        where = f"index={self.index_name!r}" if self.index_name else f"host={self.host!r}"
        return f"PineconeStore({where}, namespace={self.namespace!r})"

    command_note = "--store pinecone://INDEX[/NAMESPACE]; needs PINECONE_API_KEY"

    @classmethod
    def from_options(cls, location: str, *, create: bool) -> PineconeStore:
        """The store ``--store pinecone://INDEX[/NAMESPACE]`` names; an index is created
        only when ``create``, else :class:`~img2img.errors.StoreNotFoundError`."""
        index, _, namespace = location.partition("/")
        if not index or "/" in namespace:
            raise ConfigurationError(
                f"--store pinecone://{location}: write pinecone://INDEX or pinecone://INDEX/NAMESPACE"
            )
        where = f"pinecone://{location}"
        require_env("PINECONE_API_KEY", f"--store {where} needs a key")
        store = cls(index, namespace=namespace, create_if_missing=create)
        if not create:
            try:
                store.embedding_space()  # reaches the index: a missing one fails here
            except StoreNotFoundError as exc:
                store.close()
                raise StoreNotFoundError(
                    f"no Pinecone index {index!r} for --store {where}"
                ) from exc
            except BaseException:
                store.close()
                raise
        return store

    def picture_cache_path(self) -> str:
        """This store's picture cache: a file of its own, per index (or host) and
        namespace, in img2img's cache folder (a bare name puts it there)."""
        where = re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.index_name or self.host}-{self.namespace}")
        return f"pinecone-{where}.pictures.sqlite3"

    # -- VectorStore ---------------------------------------------------------

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        index = self._connection.open()
        dimension = (
            self._connection.dimension(index) if index is not None else self._planned_dimension
        )
        ids, matrix, metadata = stack_records(records, dimension)
        if not ids:
            return
        bad = next((i for i in ids if not _pinecone_id(i)), None)
        if bad is not None:
            raise InvalidVectorError(f"Pinecone ids are ASCII without NUL characters, got {bad!r}")
        if not np.all(np.any(matrix != 0, axis=1)):
            raise InvalidVectorError("Pinecone cannot hold a vector that is all zeros")
        items = [
            {"id": i, "values": row.tolist(), "metadata": fit_metadata(i, md, trim=self._trim)}
            for i, row, md in zip(ids, matrix, metadata, strict=True)
        ]
        sizes = [encoded_size(item) for item in items]
        overhead = encoded_size({"vectors": [], "namespace": self.namespace})
        if max(sizes) + overhead > self._max_request_bytes:
            raise InvalidVectorError(
                f"a record of {max(sizes)} bytes cannot fit in one Pinecone request "
                f"of {self._max_request_bytes} bytes"
            )
        if index is None:
            index = self._connection.open_for_writing(int(matrix.shape[1]))
        runs = list(
            batches(
                sizes,
                max_count=MAX_UPSERT_VECTORS,
                max_bytes=self._max_request_bytes,
                overhead=overhead,
            )
        )
        written = 0
        for number, run in enumerate(runs):
            chunk = [items[k] for k in run]
            try:
                self._connection.call(
                    partial(index.upsert, vectors=chunk, namespace=self.namespace),
                    f"upsert of {len(chunk)} vectors",
                )
            except Img2ImgError as exc:
                raise _partial_write(exc, ids, written, number, len(runs)) from exc
            written += len(chunk)

    def query(self, vector: Vector, *, k: int = 5, filter: Filter | None = None) -> list[Match]:
        compile_filter(filter)  # a malformed filter fails here, before any request
        self._check_k(k)
        index = self._connection.open()
        dimension = self._connection.dimension(index) if index is not None else None
        probe = check_query_vector(vector, dimension)
        if index is None or k <= 0:
            return []
        if not np.any(probe):
            raise InvalidVectorError("a query vector of zeros has no cosine similarity")
        return self._query(index, probe, k, filter)

    def query_many(
        self,
        vectors: Vector,
        *,
        k: int = 5,
        filter: Filter | None = None,
        min_score: float | None = None,
    ) -> list[list[Match]]:
        """:meth:`query` for every row of ``vectors`` (float32 ``(n, dim)``), concurrently.

        Pinecone takes one query vector per request: up to ``query_concurrency``
        requests are in flight at once, started no faster than
        ``queries_per_second`` (Pinecone allows 100 a second per namespace), and
        a throttled one is retried like any other call. Matches scoring below
        ``min_score`` are left out. Every row is checked before anything is sent.
        """
        compile_filter(filter)
        self._check_k(k)
        rows = np.asarray(vectors, dtype=np.float32)
        index = self._connection.open()
        dimension = self._connection.dimension(index) if index is not None else None
        if rows.ndim != 2 or (dimension is not None and rows.shape[1] != dimension):
            wanted = f"{dimension}-d " if dimension is not None else ""
            raise InvalidVectorError(
                f"expected a matrix of {wanted}query rows, got shape {rows.shape}"
            )
        if not np.isfinite(rows).all():
            raise InvalidVectorError("query vectors must be finite")
        if rows.shape[0] and not np.all(np.any(rows != 0, axis=1)):
            raise InvalidVectorError("a query vector of zeros has no cosine similarity")
        if index is None or k <= 0:
            return [[] for _ in range(rows.shape[0])]
        answers = run_paced(
            [partial(self._query, index, row, k, filter) for row in rows],
            concurrency=self._query_concurrency,
            pace=self._pace,
        )
        if min_score is None:
            return answers
        return [[m for m in matches if m.score >= min_score] for matches in answers]

    @staticmethod
    def _check_k(k: int) -> None:
        if k > _MAX_TOP_K:
            raise StoreError(f"Pinecone returns at most {_MAX_TOP_K} matches, asked for {k}")

    def _query(self, index: Any, probe: Vector, k: int, filter: Filter | None) -> list[Match]:
        response = self._connection.call(
            lambda: index.query(
                vector=probe.tolist(),
                top_k=k,
                namespace=self.namespace,
                filter=dict(filter) if filter else None,
                include_metadata=True,
            ),
            "query",
        )
        return [
            Match.from_metadata(m.id, float(m.score), restore_numbers(m.metadata))
            for m in response.matches
        ]

    def fetch(self, ids: Sequence[str]) -> dict[str, VectorRecord]:
        wanted = [i for i in dict.fromkeys(ids) if _pinecone_id(i)]
        index = self._connection.open() if wanted else None
        if index is None:
            return {}
        found: dict[str, VectorRecord] = {}
        sizes = [len(quote(i)) + 5 for i in wanted]  # "&ids=" and the escaped id
        for run in batches(sizes, max_count=_MAX_IDS, max_bytes=_FETCH_URL_BUDGET):
            chunk = [wanted[k] for k in run]
            response = self._connection.call(
                partial(index.fetch, ids=chunk, namespace=self.namespace),
                "fetch",
            )
            for record_id, stored in response.vectors.items():
                found[record_id] = VectorRecord(
                    record_id,
                    np.asarray(stored.values, dtype=np.float32),
                    restore_numbers(stored.metadata),
                )
        return {i: found[i] for i in ids if i in found}

    def scan(self, *, batch_size: int = 1000) -> Iterator[list[VectorRecord]]:
        """Every record, through Pinecone's id listing (serverless indexes) and fetch."""
        check_batch_size(batch_size)
        return records_in_pages(self._id_pages(), self.fetch, batch_size)

    def _id_pages(self) -> Iterator[list[str]]:
        index = self._connection.open()
        if index is None:
            return
        token: str | None = None
        while True:
            page = self._connection.call(
                partial(
                    index.list_paginated,
                    namespace=self.namespace,
                    limit=_MAX_LIST_PAGE,
                    pagination_token=token,
                ),
                "list",
            )
            yield [item.id for item in page.vectors]
            token = page.pagination.next if page.pagination else None
            if not token:
                return

    def delete(self, ids: Sequence[str] = (), *, filter: Filter | None = None) -> None:
        if filter is not None:
            compile_filter(filter)
        doomed = [i for i in dict.fromkeys(ids) if _pinecone_id(i)]
        if not doomed and filter is None:
            return
        index = self._connection.open()
        if index is None:
            return
        for start in range(0, len(doomed), _MAX_IDS):
            chunk = doomed[start : start + _MAX_IDS]
            self._delete(index, "delete by ids", ids=chunk)
        if filter is not None and not filter:  # the empty filter matches every record
            self._delete(index, "delete of the namespace", delete_all=True)
        elif filter is not None:
            self._delete(index, "delete by filter", filter=dict(filter))

    def _delete(self, index: Any, what: str, **selector: Any) -> None:
        def operation() -> None:
            try:
                index.delete(namespace=self.namespace, **selector)
            except Exception as exc:
                if not is_not_found(exc):  # a namespace that does not exist holds nothing
                    raise

        self._connection.call(operation, what)

    def count(self) -> int:
        index = self._connection.open()
        if index is None:
            return 0
        stats = self._connection.call(index.describe_index_stats, "describe_index_stats")
        names = _DEFAULT_NAMESPACE_NAMES if self.namespace == "" else (self.namespace,)
        summary = next((stats.namespaces[n] for n in names if n in stats.namespaces), None)
        return int(summary.vector_count) if summary is not None else 0

    # -- embedding space -----------------------------------------------------

    def embedding_space(self) -> EmbeddingSpace | None:
        if self._space is not None:  # changes only while the namespace is empty
            return self._space
        index = self._connection.open()
        if index is None:
            return None
        space_id = space_record_id(self.namespace)
        response = self._connection.call(
            lambda: index.fetch(ids=[space_id], namespace=SPACE_NAMESPACE),
            "fetch of the embedding space",
        )
        stored = response.vectors.get(space_id)
        if stored is None:
            return None
        metadata: Mapping[str, Any] = stored.metadata or {}
        try:
            space = EmbeddingSpace(str(metadata["model_id"]), int(metadata["dimension"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreFormatError(
                f"{self!r}: the embedding-space record {space_id} in namespace "
                f"{SPACE_NAMESPACE!r} is malformed: {dict(metadata)!r}"
            ) from exc
        self._space = space
        return space

    def set_embedding_space(self, space: EmbeddingSpace) -> None:
        """Record ``space``; an empty namespace takes any space of the index's dimension,
        one holding vectors only its own."""
        with self._lock:
            index = self._connection.open_for_writing(space.dimension)
            if self._space != space:
                self._space = None  # another process may have recorded one meanwhile
            recorded = self.embedding_space()
            if recorded == space:
                return
            if recorded is not None and self.count() > 0:
                check_same_space(recorded, space)
            dimension = self._connection.dimension(index)
            if dimension != space.dimension:
                raise EmbeddingSpaceMismatchError(
                    f"{self!r} holds {dimension}-d vectors, so it cannot store vectors of "
                    f"{space}: use an index of dimension {space.dimension}, or an embedder "
                    f"of dimension {dimension}"
                )
            marker = [1.0] + [0.0] * (dimension - 1)  # Pinecone refuses all-zero vectors
            record = {
                "id": space_record_id(self.namespace),
                "values": marker,
                "metadata": {
                    "model_id": space.model_id,
                    "dimension": space.dimension,
                    "namespace": self.namespace,
                },
            }
            self._connection.call(
                lambda: index.upsert(vectors=[record], namespace=SPACE_NAMESPACE),
                "upsert of the embedding space",
            )
            self._space = space

    def close(self) -> None:
        self._connection.close()
