"""Every error img2img raises on purpose.

Vendor exceptions (httpx, pinecone, serpapi, open_clip, sqlite3, Pillow) are
translated where they cross into img2img and re-raised ``from`` the original,
so callers need to catch only these::

    Img2ImgError
    ├── ConfigurationError            bad arguments, a missing key or package
    │   ├── MissingDependencyError    an optional package is not installed
    │   └── StoreNotFoundError        the store or index named does not exist
    ├── ModelUnavailableError         model weights cannot be loaded
    ├── EmbeddingSpaceMismatchError   store written by another model / dimension
    ├── ImageError                    one image could not be used
    │   ├── InvalidImageError         not an image, corrupt, or unsupported
    │   └── ImageTooLargeError        too many pixels (decompression bomb)
    ├── FetchError                    one URL could not be downloaded
    │   ├── BlockedURLError           refused: private, loopback, metadata address…
    │   ├── ResponseTooLargeError     body larger than the fetcher allows
    │   └── UnexpectedContentError    the server did not send an image
    ├── ServiceError                  a remote service failed (SerpAPI, Pinecone)
    │   ├── AuthenticationError       the key is missing, wrong or revoked
    │   ├── ImageUploadError          the service would not take an uploaded image
    │   ├── RateLimitError            throttled, still after retries
    │   │   └── QuotaExhaustedError   the plan's searches are spent: waiting will not help
    │   └── ServiceUnavailableError   5xx or unreachable, still after retries
    └── StoreError                    the vector store refused or failed
        ├── InvalidVectorError        wrong dimension, NaN or infinite values
        ├── InvalidFilterError        malformed metadata filter
        ├── InvalidMetadataError      metadata the store cannot hold
        └── StoreFormatError          file is not a store, or from a newer version

Per-item problems (``ImageError``, ``FetchError``) during ``index()`` are not
raised: they are collected in ``IndexReport.failures``. Systemic ones are.

Ctrl-C during ``index()`` or ``add()`` raises ``img2img.models.IndexInterrupted``,
a ``KeyboardInterrupt`` (not an ``Img2ImgError``) that carries the report of
how far the run got.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BlockedURLError",
    "ConfigurationError",
    "EmbeddingSpaceMismatchError",
    "FetchError",
    "ImageError",
    "ImageTooLargeError",
    "ImageUploadError",
    "Img2ImgError",
    "InvalidFilterError",
    "InvalidImageError",
    "InvalidMetadataError",
    "InvalidVectorError",
    "MissingDependencyError",
    "ModelUnavailableError",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServiceError",
    "ServiceUnavailableError",
    "StoreError",
    "StoreFormatError",
    "StoreNotFoundError",
    "UnexpectedContentError",
]


class Img2ImgError(Exception):
    """Base class of every error img2img raises on purpose."""


class ConfigurationError(Img2ImgError):
    """An argument, environment variable or installation is wrong."""


class MissingDependencyError(ConfigurationError):
    """An optional package is needed; the message names what to install."""


class StoreNotFoundError(ConfigurationError):
    """The store (a file, a Pinecone index) named does not exist and may not be created."""


class ModelUnavailableError(Img2ImgError):
    """Model weights could not be loaded (no network, bad path, bad file)."""


class EmbeddingSpaceMismatchError(Img2ImgError):
    """The store holds vectors of another model or dimension than the embedder's."""


class ImageError(Img2ImgError):
    """One image could not be turned into pixels."""


class InvalidImageError(ImageError):
    """The bytes are not an image Pillow can decode, or are corrupt."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than allowed (a decompression bomb guard)."""


class FetchError(Img2ImgError):
    """A URL could not be downloaded.

    ``status_code`` is the HTTP status the server answered with, when it
    answered (404 for a page gone, 410 for one removed for good).
    """

    def __init__(
        self, message: str, *, url: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code


class BlockedURLError(FetchError):
    """The URL, or a redirect hop, points where the fetcher may not go."""


class ResponseTooLargeError(FetchError):
    """The body is larger than the fetcher's limit."""


class UnexpectedContentError(FetchError):
    """The server answered with something that is not an image."""


class ServiceError(Img2ImgError):
    """A remote service failed."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(ServiceError):
    """The service refused the credentials."""


class ImageUploadError(ServiceError):
    """The service refused an image upload: the plan, the size or the format.

    The message says what to do instead (a public URL of the image, or another uploader).
    """


class RateLimitError(ServiceError):
    """The service kept throttling after the retries ran out."""


class QuotaExhaustedError(RateLimitError):
    """The account's searches are spent (for the day, the month or the bundle).

    Unlike a throttle, no retry helps; the message says when the quota comes back
    if the service said so.
    """


class ServiceUnavailableError(ServiceError):
    """The service kept failing (5xx, timeouts) after the retries ran out."""


class StoreError(Img2ImgError):
    """The vector store refused an operation or failed."""


class InvalidVectorError(StoreError):
    """A vector has the wrong shape or non-finite values."""


class InvalidFilterError(StoreError):
    """A metadata filter is malformed."""


class InvalidMetadataError(StoreError):
    """Metadata the store cannot hold (type, size)."""


class StoreFormatError(StoreError):
    """The file is not an img2img store, or was written by a newer version."""
