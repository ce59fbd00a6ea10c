"""The seams of img2img. The docstrings here are the specification.

Adapters satisfy these structurally: they inherit nothing. Every adapter
shipped with img2img passes the contract suite for its protocol in
:mod:`img2img.testing.contracts`; your own adapters can run the same suite.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from img2img.models import (
    EmbeddingSpace,
    Filter,
    ImageCandidate,
    Match,
    MatchKind,
    PartFailure,
    UploadedImage,
    Vector,
    VectorRecord,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "Embedder",
    "Fetcher",
    "ImageSource",
    "ImageUploader",
    "ReverseImageSource",
    "PreparingEmbedder",
    "SourceWithParts",
    "TextEmbedder",
    "VectorStore",
]


@runtime_checkable
class ImageSource(Protocol):
    """Finds images for a keyphrase.

    ``discover`` yields at most ``limit`` candidates, lazily, so a caller that
    stops early costs no more requests. Image URLs are unique within one call.
    Sources that read remote data yield only ``http(s)://`` image URLs; local
    sources may yield ``file://`` URLs. Systemic failures (bad key, service
    down) raise :class:`~img2img.errors.ServiceError`; an empty result is an
    empty iterator, not an error.
    """

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]: ...


@runtime_checkable
class SourceWithParts(ImageSource, Protocol):
    """An ``ImageSource`` that reads several parts (channels, servers, subreddits,
    campaigns) and skips those it cannot read instead of failing the call.

    Once a ``discover`` iterator has ended, ``failures`` lists the parts that
    call skipped, and why; the next ``discover`` call starts a new list.
    ``ImageSearchClient.index`` copies them into
    :attr:`~img2img.models.IndexReport.part_failures`, so a run that read some
    channels but not all says so. Only when no part could be read does
    ``discover`` raise.
    """

    @property
    def failures(self) -> Sequence[PartFailure]: ...


@runtime_checkable
class ReverseImageSource(Protocol):
    """Finds pages that show a given image: reverse image search (Google Lens, TinEye …).

    ``lookup`` takes the query image as an ``http(s)`` URL the service can
    fetch itself, or as an :class:`~img2img.models.UploadedImage` that
    ``upload`` returned. ``kind="exact"`` asks for pages showing the same
    picture, ``kind="similar"`` for pages showing alike pictures; another kind
    raises :class:`~img2img.errors.ConfigurationError`. It yields at most
    ``limit`` candidates, best first, lazily: nothing is sent to the service
    before the first candidate is asked for. Image URLs are ``http(s)`` and
    unique within one call; ``page_url`` is the page claimed to show the image.
    These are the service's claims, not verified copies. An empty answer is an
    empty iterator, not an error.

    ``upload`` hands a local image (its encoded bytes) to the service and
    returns the reference ``lookup`` takes; a source that can only see public
    URLs raises :class:`~img2img.errors.ConfigurationError` saying so.

    Systemic failures (bad key, spent quota, service down, an upload the plan
    does not allow) raise :class:`~img2img.errors.ServiceError` subclasses.
    """

    def lookup(
        self, image: str | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]: ...

    def upload(self, data: bytes) -> UploadedImage: ...


@runtime_checkable
class ImageUploader(Protocol):
    """Makes a local image visible to a reverse-search service.

    ``upload`` takes the image's encoded bytes (JPEG, PNG, …) and returns an
    :class:`~img2img.models.UploadedImage`: a public ``http(s)`` URL where the
    image now is, or an id the service gave it. It may re-encode or shrink the
    image to fit the service's limits. Raises
    :class:`~img2img.errors.InvalidImageError` for bytes that are not an image
    and :class:`~img2img.errors.ImageUploadError` when the service refuses.
    """

    def upload(self, data: bytes) -> UploadedImage: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns images into vectors.

    ``embed_images`` takes RGB ``PIL.Image`` objects and returns a float32
    array of shape ``(len(images), dimension)`` whose rows have unit L2 norm,
    so a dot product is a cosine similarity. It returns shape ``(0, dimension)``
    for an empty batch. ``model_id`` names the weights, not just the
    architecture: two embedders with equal ``model_id`` produce comparable
    vectors. Heavy models load on first use, not in ``__init__``.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_images(self, images: Sequence[Image.Image]) -> Vector: ...


@runtime_checkable
class PreparingEmbedder(Embedder, Protocol):
    """An embedder whose CPU preprocessing can run apart from its model.

    ``prepare`` turns one RGB image into the model's input (resize, crop,
    normalise; for the shipped embedders a float32 ``(3, H, W)`` array). It
    runs no model, is safe to call from several threads at once, and the
    indexing pipeline calls it on the threads that decode downloaded images. ``embed_prepared``
    takes a sequence of such inputs and returns what ``embed_images`` would
    for the images: float32 ``(n, dimension)`` unit rows.
    """

    def prepare(self, image: Image.Image) -> Any: ...

    def embed_prepared(self, prepared: Sequence[Any]) -> Vector: ...


@runtime_checkable
class TextEmbedder(Embedder, Protocol):
    """An embedder that also places text in the same space (CLIP), for search by words.

    ``embed_texts`` returns float32 ``(len(texts), dimension)`` unit rows.
    """

    def embed_texts(self, texts: Sequence[str]) -> Vector: ...


@runtime_checkable
class VectorStore(Protocol):
    """Holds unit vectors with provenance metadata and answers nearest-neighbour queries.

    - ``upsert`` is idempotent by id: writing an id again replaces its vector
      and metadata. A call is all-or-nothing where the backend allows.
      Vectors of the wrong dimension or with NaN/inf raise
      :class:`~img2img.errors.InvalidVectorError` and write nothing.
    - ``query`` returns up to ``k`` matches, highest cosine score first,
      restricted by a Pinecone-style metadata ``filter`` (see ``docs/filters.md``).
    - ``fetch`` returns the records that exist among ``ids``; unknown ids are absent.
    - ``delete`` removes the given ids and/or every record matching ``filter``;
      unknown ids are ignored.
    - ``scan`` yields every stored record, vector and metadata, exactly once, in
      lists of at most ``batch_size``, lazily: memory holds one list at a time,
      however large the store. The order is the store's own. Records written or
      deleted while a scan runs may or may not be seen.
    - ``embedding_space`` is the space recorded by ``set_embedding_space``, or
      ``None`` for a store never written to. ``set_embedding_space`` records it
      and raises :class:`~img2img.errors.EmbeddingSpaceMismatchError` if the
      store already holds vectors of another; an empty store takes any space.
    """

    def upsert(self, records: Sequence[VectorRecord]) -> None: ...

    def query(self, vector: Vector, *, k: int = 5, filter: Filter | None = None) -> list[Match]: ...

    def fetch(self, ids: Sequence[str]) -> dict[str, VectorRecord]: ...

    def delete(self, ids: Sequence[str] = (), *, filter: Filter | None = None) -> None: ...

    def scan(self, *, batch_size: int = 1000) -> Iterator[list[VectorRecord]]: ...

    def count(self) -> int: ...

    def embedding_space(self) -> EmbeddingSpace | None: ...

    def set_embedding_space(self, space: EmbeddingSpace) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Fetcher(Protocol):
    """Downloads one ``http(s)`` URL and returns the body.

    Must be safe to call from several threads at once. Raises
    :class:`~img2img.errors.FetchError` (or a subclass) for anything that
    stops the download; the client records it as a per-item failure.
    """

    def fetch(self, url: str) -> bytes: ...

    def close(self) -> None: ...
