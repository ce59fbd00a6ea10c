"""Reaching a Pinecone index: the SDK client, the host, and creating the index when asked.

The SDK is imported here, on first use, never when img2img is imported.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from img2img.errors import (
    ConfigurationError,
    MissingDependencyError,
    StoreError,
    StoreNotFoundError,
)
from img2img.net.retry import RetryPolicy
from img2img.stores.pinecone.calls import call_pinecone

__all__ = ["IndexConnection", "IndexSettings"]


@dataclass(frozen=True)
class IndexSettings:
    """Where the index is and how to create it; see ``PineconeStore`` for each field."""

    name: str | None
    host: str | None
    api_key: str
    controller_host: str | None
    timeout: float
    retry: RetryPolicy
    create_if_missing: bool
    dimension: int | None
    cloud: str
    region: str


class IndexConnection:
    """Opens the data-plane handle lazily and once; thread-safe."""

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._client: Any = None
        self._index: Any = None
        self._dimension: int | None = None

    def call(self, operation: Any, what: str) -> Any:
        """``call_pinecone`` with this index's retry policy, its key kept out of errors."""
        return call_pinecone(operation, what, self.settings.retry, secret=self.settings.api_key)

    def client(self) -> Any:
        """The SDK's ``Pinecone`` control-plane client."""
        with self._lock:
            if self._client is None:
                try:
                    from pinecone import Pinecone, PineconeError
                except ImportError as exc:
                    raise MissingDependencyError(
                        "PineconeStore needs the pinecone extra: pip install 'img2img-search[pinecone]'"
                    ) from exc
                s = self.settings
                try:  # builds locally, sends nothing: what fails here is the configuration
                    self._client = Pinecone(
                        api_key=s.api_key, host=s.controller_host, timeout=s.timeout
                    )
                except PineconeError as exc:
                    raise ConfigurationError(f"cannot set up the Pinecone client: {exc}") from exc
            return self._client

    def open(self, create_dimension: int | None = None) -> Any | None:
        """The data-plane handle, or ``None`` while the index is still to be created.

        A missing index is created when ``create_if_missing`` is set and a
        dimension is known: the configured one, else ``create_dimension``.
        """
        with self._lock:
            if self._index is None:
                host = self.settings.host or self._resolve_host(create_dimension)
                if host is None:
                    return None
                from pinecone import PineconeError

                try:
                    self._index = self.client().index(host=host)
                except PineconeError as exc:
                    raise ConfigurationError(f"cannot open Pinecone index {host}: {exc}") from exc
            return self._index

    def open_for_writing(self, dimension: int) -> Any:
        """The data-plane handle, creating the index (of ``dimension``) when allowed."""
        index = self.open(create_dimension=dimension)
        if index is None:  # _resolve_host creates the index when given a dimension
            raise StoreError(f"Pinecone index {self.settings.name!r} could not be opened")
        return index

    def _resolve_host(self, create_dimension: int | None) -> str | None:
        from pinecone.errors.exceptions import ConflictError, NotFoundError

        s, client = self.settings, self.client()
        name = str(s.name)

        def describe() -> Any:
            try:
                return client.indexes.describe(name)
            except NotFoundError:
                return None

        model = self.call(describe, f"describe index {name!r}")
        if model is None:
            if not s.create_if_missing:
                raise StoreNotFoundError(
                    f"Pinecone index {name!r} does not exist: create it, or pass "
                    "create_if_missing=True"
                )
            dimension = s.dimension or create_dimension
            if dimension is None:
                return None
            field = {"type": "dense_vector", "dimension": dimension, "metric": "cosine"}
            deployment = {"deployment_type": "managed", "cloud": s.cloud, "region": s.region}

            def create() -> Any:
                try:
                    return client.indexes.create(
                        name=name, schema={"fields": {"_values": field}}, deployment=deployment
                    )
                except ConflictError:  # created meanwhile by someone else
                    return client.indexes.describe(name)

            model = self.call(create, f"create index {name!r}")
        if not model.host:
            raise StoreError(f"Pinecone index {name!r} has no host yet; it is still starting")
        return str(model.host)

    def dimension(self, index: Any) -> int:
        """The index's dimension, asked once; refuses an index of another metric than cosine."""
        if self._dimension is None:
            stats = self.call(index.describe_index_stats, "describe_index_stats")
            metric = getattr(stats, "metric", None)
            if metric not in (None, "cosine"):
                raise ConfigurationError(
                    f"the Pinecone index uses the {metric} metric; img2img needs cosine"
                )
            if not stats.dimension:
                raise StoreError("Pinecone did not report the index dimension")
            self._dimension = int(stats.dimension)
        return self._dimension

    def close(self) -> None:
        with self._lock:
            for handle in (self._index, self._client):
                if handle is not None:
                    handle.close()
            self._index = self._client = None
