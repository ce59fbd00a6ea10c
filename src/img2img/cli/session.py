"""What one run of the command works with: its arguments, output, store, embedder and client.

Each part is made on first use, so ``info`` never loads a model and a bad
``--store`` fails before anything heavy is imported. Everything opened is
closed when the session ends.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from img2img.cli.embedding import EMBEDDER_OPTIONS, choose_embedder
from img2img.cli.stores import StoreSpec, open_store, parse_store, store_exists

if TYPE_CHECKING:
    from img2img.cli.output import Output
    from img2img.client import ImageSearchClient
    from img2img.models import EmbeddingSpace
    from img2img.protocols import (
        Embedder,
        Fetcher,
        ImageSource,
        ReverseImageSource,
        VectorStore,
    )

__all__ = ["Session", "StoreAccess"]


def _load_model(embedder: Embedder) -> None:
    """Embed one tiny picture, so the model is loaded (and, on first use, built) now."""
    from PIL import Image

    embedder.embed_images([Image.new("RGB", (32, 32), (128, 128, 128))])


#: ``write`` commands create a missing store; ``read`` commands refuse one that does not exist.
StoreAccess = Literal["read", "write"]


class Session:
    """The parts one command needs, built lazily from the parsed arguments."""

    def __init__(
        self,
        args: argparse.Namespace,
        out: Output,
        access: StoreAccess,
        *,
        uses_model: bool = True,
    ) -> None:
        self.args = args
        self.uses_model = uses_model
        self.out = out
        self.access = access
        self._stack = ExitStack()
        self._spec: StoreSpec | None = None
        self._store: VectorStore | None = None
        self._embedder: Embedder | None = None
        self._client: ImageSearchClient | None = None
        self._count_before: int | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def spec(self) -> StoreSpec:
        """Where the store is, from ``--store``."""
        if self._spec is None:
            self._spec = parse_store(self.args.store)
        return self._spec

    @property
    def store(self) -> VectorStore:
        """The store, opened once; created only by commands that write."""
        if self._store is None:
            self._keep(open_store(self.spec, create=self.access == "write", out=self.out))
        assert self._store is not None
        return self._store

    def _keep(self, store: VectorStore) -> None:
        self._stack.callback(store.close)
        self._store = store

    def _recorded_space(self) -> EmbeddingSpace | None:
        """The model the store holds vectors of; ``None`` for a store yet to be created."""
        if self._store is None:
            existing = store_exists(self.spec)
            if existing is None and self.access == "write":
                return None
            if existing is None:
                return self.store.embedding_space()  # refuses: a store to read must exist
            self._keep(existing)
        return self.store.embedding_space()

    @property
    def embedder(self) -> Embedder:
        """The store's own model, or the one the options name for a new store."""
        if self._embedder is None:
            # A store yet to be created has no model: choose (and check) the embedder
            # before creating it, so a model that cannot load leaves no empty store behind.
            recorded = self._recorded_space()
            embedder = choose_embedder(self.args, recorded)
            if recorded is None and self.access == "write":
                # Load the model before the store is made or written: a model stack that
                # cannot run fails here, in one line, and leaves no store behind.
                _load_model(embedder)
            self._embedder = embedder
            if recorded is not None and not EMBEDDER_OPTIONS.given(self.args) and self.uses_model:
                self.out.note(f"Using {recorded.model_id}, the model this store was built with.")
        return self._embedder

    def client(
        self,
        *,
        source: ImageSource | None = None,
        fetcher: Fetcher | None = None,
        reverse_source: ReverseImageSource | None = None,
    ) -> ImageSearchClient:
        """An ``ImageSearchClient`` over this session's store and embedder."""
        if self._client is None:
            from img2img.client import ImageSearchClient

            client = ImageSearchClient(
                source=source,
                embedder=self.embedder,
                store=self.store,
                fetcher=fetcher,
                reverse_source=reverse_source,
            )
            self._stack.callback(client.close)
            if fetcher is not None:
                self._stack.callback(fetcher.close)
            if self.access == "write":
                self._count_before = self.store.count()
            self._client = client
        return self._client

    def stored_since_start(self) -> int | None:
        """Records the store gained since this command's client was made; ``None`` if
        the command never wrote. Read from the store, not from the run's own tally:
        a batch committed just as Ctrl-C came is stored, though the run never heard back."""
        if self._count_before is None or self._store is None:
            return None
        return self._store.count() - self._count_before
