"""FakePinecone: one Pinecone serverless index on 127.0.0.1, for tests.

    with FakePinecone(dimension=8) as fake:
        index = Pinecone(api_key=fake.api_key).Index(host=fake.url)
        index.upsert(vectors=[("a", [0.1] * 8, {"domain": "a.com"})], namespace="photos")
        assert fake.records("photos")["a"]["metadata"] == {"domain": "a.com"}

The real ``pinecone`` client talks to it over HTTP. It serves the data plane
(``/vectors/upsert``, ``/query``, ``/vectors/fetch``, ``/vectors/list``, ``/vectors/delete``,
``/describe_index_stats``) and enough of the control plane to describe, list
and create its one index (``/indexes``), so ``Pinecone(host=fake.url)`` works.

It keeps Pinecone's rules and answers in Pinecone's error bodies
(``{"code": N, "message": "...", "details": []}``): at most 1,000 vectors and
2 MiB per upsert, 40,960 bytes of metadata per vector, metadata values that are
strings, numbers, booleans or lists of strings, ids of 1-512 ASCII characters,
vectors of the index's dimension with a non-zero value, ``top_k`` up to 1,000
with metadata. Numbers in metadata come back as floats, as from the real
service. Filters are evaluated by :mod:`img2img.filters`. A wrong ``Api-Key``
gets a 401. Faults queued with :meth:`FakePinecone.queue` are served first,
so a test can play a 429 then a 503 then the real answer. Every request is
recorded. Given ``query_rate_limit``, it refuses queries past that many per
second in one namespace with a 429, as Pinecone does; given ``query_seconds``,
each query takes that long (outside its lock, so queries overlap as they do on
the service), and :attr:`FakePinecone.most_queries_at_once` says how many did;
:attr:`FakePinecone.queries_throttled` counts the queries refused for the rate.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from img2img.errors import InvalidFilterError
from img2img.filters import compile_filter
from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.service import FakeService, RateWindow, Stall

__all__ = ["FakePinecone", "Stall"]

_INVALID_ARGUMENT, _NOT_FOUND, _RESOURCE_EXHAUSTED, _UNAUTHENTICATED = 3, 5, 8, 16
_GRPC_CODE_OF_STATUS = {400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14, 504: 4}
_DEFAULT_NAMESPACE = "__default__"  # how the default ("") namespace is named in stats


class _Refused(Exception):
    """A request the index refuses: becomes a Pinecone error body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class FakePinecone(FakeService):
    """A loopback Pinecone index the real SDK can use.

    Args:
        dimension: the index's dimension; ``None`` means no index exists yet
            until one is created through the control plane (``POST /indexes``).
        index_name: the name the control plane knows the index by.
        api_key: the only key accepted; any other gets a 401.
        max_upsert_vectors, max_request_bytes, max_metadata_bytes: Pinecone's limits.
        query_rate_limit: query requests allowed per second in one namespace
            (Pinecone's is 100); ``None``: no limit.
        query_seconds: how long each query takes to answer.

    Its :attr:`url` is the index host, which is also the control-plane host.
    """

    INVALID_KEY = "Invalid API Key"
    TOO_LARGE = (
        "Your request is larger than the maximum supported size - 2MB. "
        "Please try to reduce your batch size."
    )

    def __init__(
        self,
        *,
        dimension: int | None = 8,
        index_name: str = "img2img-test",
        api_key: str = "pclocal",
        max_upsert_vectors: int = 1_000,
        max_request_bytes: int = 2 * 1024 * 1024,
        max_metadata_bytes: int = 40_960,
        query_rate_limit: int | None = None,
        query_seconds: float = 0.0,
    ) -> None:
        super().__init__()
        self.dimension = dimension
        self.index_name = index_name
        self.api_key = api_key
        self.max_upsert_vectors = max_upsert_vectors
        self.max_request_bytes = max_request_bytes
        self.max_metadata_bytes = max_metadata_bytes
        self.cloud, self.region = "aws", "us-east-1"
        self._namespaces: dict[str, dict[str, tuple[list[float], dict[str, Any]]]] = {}
        self.query_rate_limit, self.query_seconds = query_rate_limit, query_seconds
        self._query_windows: dict[str, RateWindow] = {}
        self._queries_now = 0
        self.most_queries_at_once = 0
        self.queries_throttled = 0
        self._counting = threading.Lock()

    # -- test controls -------------------------------------------------------

    @staticmethod
    def error(status: int, message: str, *, retry_after: str | None = None) -> Reply:
        """A data-plane error reply in Pinecone's shape, e.g. ``error(429, "Too many requests")``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        body = {"code": _GRPC_CODE_OF_STATUS.get(status, 2), "message": message, "details": []}
        return Reply.json(body, status=status, headers=headers)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def records(self, namespace: str = "") -> dict[str, dict[str, Any]]:
        """A copy of what ``namespace`` holds: ``{id: {"values": [...], "metadata": {...}}}``."""
        with self._lock:
            stored = self._namespaces.get(namespace, {})
            return {
                i: {"values": list(v), "metadata": json.loads(json.dumps(m))}
                for i, (v, m) in stored.items()
            }

    # -- dispatch ------------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        if (request.method, request.path) != ("POST", "/query"):
            return self._answer_now(request)
        with self._counting:
            self._queries_now += 1
            self.most_queries_at_once = max(self.most_queries_at_once, self._queries_now)
        try:
            throttled = self._throttled(request)
            if throttled is not None:
                return throttled
            time.sleep(self.query_seconds)
            return self._answer_now(request)
        finally:
            with self._counting:
                self._queries_now -= 1

    def _throttled(self, request: RecordedRequest) -> Reply | None:
        """Pinecone's 429 for a query past the namespace's requests per second, else ``None``."""
        if self.query_rate_limit is None:
            return None
        try:
            namespace = str(json.loads(request.body or b"{}").get("namespace") or "")
        except (ValueError, AttributeError):
            return None  # the query's own checks refuse it
        with self._lock:
            window = self._query_windows.setdefault(namespace, RateWindow(time.monotonic))
            allowed, _, _ = window.take(self.query_rate_limit, 1.0)
            if not allowed:
                self.queries_throttled += 1
        if allowed:
            return None
        return self.error(
            429,
            "Request failed. You've reached the max query requests per second limit "
            f"({self.query_rate_limit}) for namespace {namespace or _DEFAULT_NAMESPACE}. "
            "Pace your requests or contact Pinecone Support to request a higher limit.",
        )

    def _answer_now(self, request: RecordedRequest) -> Reply:
        if request.path.startswith("/indexes"):
            return self._control_plane(request)
        if request.headers.get("api-key") != self.api_key:
            return self.error(401, self.INVALID_KEY)
        routes = {
            ("POST", "/vectors/upsert"): self._upsert,
            ("POST", "/query"): self._query,
            ("GET", "/vectors/fetch"): self._fetch,
            ("GET", "/vectors/list"): self._list,
            ("POST", "/vectors/delete"): self._delete,
            ("POST", "/describe_index_stats"): self._stats,
        }
        route = routes.get((request.method, request.path))
        if route is None:
            return self.error(404, f"Unknown route {request.method} {request.path}")
        if self.dimension is None:
            return self.error(404, f"Index {self.index_name} not found")
        try:
            if request.method == "POST":
                if len(request.body) > self.max_request_bytes:
                    raise _Refused(self.TOO_LARGE)
                try:
                    body = json.loads(request.body or b"{}")
                except ValueError as exc:
                    raise _Refused(f"Invalid JSON body: {exc}") from exc
                if not isinstance(body, dict):
                    raise _Refused("The request body must be a JSON object")
            else:
                body = dict(request.query)
            with self._lock:
                return Reply.json(route(body))
        except _Refused as refused:
            return self.error(refused.status, str(refused))

    # -- control plane -------------------------------------------------------

    def _control_error(self, status: int, code: str, message: str) -> Reply:
        return Reply.json({"error": {"code": code, "message": message}, "status": status}, status)

    def _model(self, ready: bool) -> dict[str, Any]:
        field = {"type": "dense_vector", "dimension": self.dimension, "metric": "cosine"}
        return {
            "name": self.index_name,
            "status": {"ready": ready, "state": "Ready" if ready else "Initializing"},
            "schema": {"fields": {"_values": field}},
            "deployment": {
                "deployment_type": "managed",
                "cloud": self.cloud,
                "region": self.region,
            },
            "deletion_protection": "disabled",
            "host": self.url,
        }

    def _control_plane(self, request: RecordedRequest) -> Reply:
        if request.headers.get("api-key") != self.api_key:
            return self._control_error(401, "UNAUTHENTICATED", self.INVALID_KEY)
        with self._lock:
            if request.method == "GET" and request.path == "/indexes":
                return Reply.json({"indexes": [self._model(True)] if self.dimension else []})
            if request.method == "GET":
                name = request.path.removeprefix("/indexes/")
                if name != self.index_name or self.dimension is None:
                    return self._control_error(404, "NOT_FOUND", f"Resource {name} not found")
                return Reply.json(self._model(True))
            if request.method == "POST" and request.path == "/indexes":
                return self._create(request.json() or {})
        return self._control_error(404, "NOT_FOUND", f"Unknown route {request.path}")

    def _create(self, body: Mapping[str, Any]) -> Reply:
        if self.dimension is not None:
            return self._control_error(
                409, "ALREADY_EXISTS", f"Resource {body.get('name')} already exists"
            )
        field = body.get("schema", {}).get("fields", {}).get("_values", {})
        dimension = field.get("dimension")
        if not isinstance(dimension, int) or not 1 <= dimension <= 20_000:
            return self._control_error(400, "INVALID_ARGUMENT", "dimension must be 1-20000")
        if field.get("metric", "cosine") != "cosine":
            return self._control_error(400, "INVALID_ARGUMENT", "this emulator serves cosine only")
        self.index_name, self.dimension = str(body.get("name")), dimension
        deployment = body.get("deployment") or {}
        self.cloud = deployment.get("cloud", self.cloud)
        self.region = deployment.get("region", self.region)
        return Reply.json(self._model(False), status=201)

    # -- data plane ----------------------------------------------------------

    @staticmethod
    def _namespace_of(body: Mapping[str, Any]) -> str:
        value = body.get("namespace") or ""
        if isinstance(value, list):  # a query parameter
            value = value[0] if value else ""
        name = str(value)
        return "" if name == _DEFAULT_NAMESPACE else name

    def _check_values(self, values: Any, what: str) -> list[float]:
        if not isinstance(values, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in values
        ):
            raise _Refused(f"{what}: values must be a list of numbers")
        if len(values) != self.dimension:
            raise _Refused(
                f"Vector dimension {len(values)} does not match the dimension of the index "
                f"{self.dimension}"
            )
        if not all(math.isfinite(x) for x in values):
            raise _Refused(f"{what}: values must be finite")
        if not any(values):
            raise _Refused(f"{what}: Dense vectors must contain at least one non-zero value")
        return [float(x) for x in values]

    def _check_metadata(self, metadata: Any, record_id: str) -> dict[str, Any]:
        if metadata is None:
            return {}
        if not isinstance(metadata, dict):
            raise _Refused(f"Metadata of vector {record_id} must be an object")
        size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())
        if size > self.max_metadata_bytes:
            raise _Refused(
                f"Metadata size is {size} bytes, which exceeds the limit of "
                f"{self.max_metadata_bytes} bytes per vector"
            )
        clean: dict[str, Any] = {}
        for key, value in metadata.items():
            if isinstance(value, (bool, str)):
                clean[key] = value
            elif isinstance(value, (int, float)) and math.isfinite(value):
                clean[key] = float(value)  # Pinecone keeps every number as a double
            elif isinstance(value, list) and all(isinstance(x, str) for x in value):
                clean[key] = list(value)
            else:
                kind = "null" if value is None else type(value).__name__
                raise _Refused(
                    f"Metadata value for field {key!r} of vector {record_id} must be a string, "
                    f"number, boolean or list of strings, got {kind}"
                )
        return clean

    @staticmethod
    def _check_id(record_id: Any) -> str:
        if (
            not isinstance(record_id, str)
            or not 1 <= len(record_id) <= 512
            or not record_id.isascii()
            or "\x00" in record_id
        ):
            raise _Refused(f"Vector ID must be 1-512 ASCII characters, got {record_id!r}")
        return record_id

    def _upsert(self, body: Mapping[str, Any]) -> dict[str, Any]:
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise _Refused("vectors must be a non-empty list")
        if len(vectors) > self.max_upsert_vectors:
            raise _Refused(
                f"Request contains {len(vectors)} vectors; at most {self.max_upsert_vectors} "
                "vectors may be upserted in one request"
            )
        checked = []
        for item in vectors:
            if not isinstance(item, dict):
                raise _Refused("each vector must be an object")
            record_id = self._check_id(item.get("id"))
            values = self._check_values(item.get("values"), f"vector {record_id}")
            checked.append(
                (record_id, values, self._check_metadata(item.get("metadata"), record_id))
            )
        stored = self._namespaces.setdefault(self._namespace_of(body), {})
        for record_id, values, metadata in checked:  # all or nothing: checked first
            stored[record_id] = (values, metadata)
        return {"upsertedCount": len(checked)}

    def _predicate(self, body: Mapping[str, Any]) -> Any:
        try:
            return compile_filter(body.get("filter"))
        except InvalidFilterError as exc:
            raise _Refused(f"Invalid filter: {exc}") from exc

    def _query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        top_k = body.get("topK")
        include_values = bool(body.get("includeValues"))
        include_metadata = bool(body.get("includeMetadata"))
        if not isinstance(top_k, int) or not 1 <= top_k <= 10_000:
            raise _Refused("topK must be an integer between 1 and 10000")
        if (include_values or include_metadata) and top_k > 1_000:
            raise _Refused("topK must be at most 1000 when including values or metadata")
        namespace = self._namespace_of(body)
        stored = self._namespaces.get(namespace, {})
        if "id" in body:
            found = stored.get(str(body["id"]))
            query = found[0] if found else None
        else:
            query = self._check_values(body.get("vector"), "query vector")
        predicate = self._predicate(body)
        hits = [(i, v, m) for i, (v, m) in stored.items() if predicate(m)]
        if query is None or not hits:
            return {"matches": [], "namespace": namespace, "usage": {"readUnits": 1}}
        matrix = np.asarray([v for _, v, _ in hits], dtype=np.float64)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        probe = np.asarray(query, dtype=np.float64)
        scores = matrix @ (probe / np.linalg.norm(probe))
        order = np.argsort(-scores, kind="stable")[:top_k]
        matches = [
            {
                "id": hits[r][0],
                "score": float(scores[r]),
                "values": list(hits[r][1]) if include_values else [],
                **({"metadata": hits[r][2]} if include_metadata else {}),
            }
            for r in order
        ]
        return {"matches": matches, "namespace": namespace, "usage": {"readUnits": 5}}

    def _fetch(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ids = params.get("ids") or []
        if not ids or len(ids) > 1_000:
            raise _Refused("fetch takes 1-1000 ids")
        namespace = self._namespace_of(params)
        stored = self._namespaces.get(namespace, {})
        vectors = {
            i: {"id": i, "values": list(stored[i][0]), "metadata": stored[i][1]}
            for i in ids
            if i in stored
        }
        return {"vectors": vectors, "namespace": namespace, "usage": {"readUnits": 1}}

    def _list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Ids in sorted order, ``limit`` (1-100, default 100) a page; the token is opaque."""
        limit_text = (params.get("limit") or ["100"])[0]
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise _Refused("limit must be between 1 and 100")
        prefix = (params.get("prefix") or [""])[0]
        token = (params.get("paginationToken") or [""])[0]
        try:
            after = bytes.fromhex(token).decode("utf-8") if token else None
        except ValueError as exc:
            raise _Refused("Invalid pagination token") from exc
        namespace = self._namespace_of(params)
        ids = sorted(
            i
            for i in self._namespaces.get(namespace, {})
            if i.startswith(prefix) and (after is None or i > after)
        )
        page = ids[: int(limit_text)]
        more = len(ids) > len(page)
        return {
            "vectors": [{"id": i} for i in page],
            **({"pagination": {"next": page[-1].encode("utf-8").hex()}} if more else {}),
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }

    def _delete(self, body: Mapping[str, Any]) -> dict[str, Any]:
        ids, delete_all, flt = body.get("ids"), body.get("deleteAll"), body.get("filter")
        if sum(x is not None and x is not False for x in (ids, delete_all, flt)) != 1:
            raise _Refused("Exactly one of ids, deleteAll or filter must be given")
        namespace = self._namespace_of(body)
        stored = self._namespaces.get(namespace, {})
        if ids is not None:
            if not isinstance(ids, list) or not 1 <= len(ids) <= 1_000:
                raise _Refused("ids must be a list of 1-1000 ids")
            doomed = [i for i in ids if i in stored]
        elif delete_all:
            doomed = list(stored)
        else:
            if not flt:
                raise _Refused("Delete with empty metadata filter is not allowed")
            predicate = self._predicate(body)
            doomed = [i for i, (_, m) in stored.items() if predicate(m)]
        for record_id in doomed:
            del stored[record_id]
        if not stored:
            self._namespaces.pop(namespace, None)  # Pinecone drops empty namespaces
        return {}

    def _stats(self, body: Mapping[str, Any]) -> dict[str, Any]:
        predicate = self._predicate(body)
        counts = {
            (name or _DEFAULT_NAMESPACE): sum(1 for _, m in stored.values() if predicate(m))
            for name, stored in self._namespaces.items()
        }
        return {
            "namespaces": {name: {"vectorCount": n} for name, n in counts.items()},
            "dimension": self.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": "cosine",
            "vectorType": "dense",
        }
