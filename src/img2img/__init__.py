"""img2img: reverse image search as a library.

    from img2img import ImageSearchClient, FolderSource, EfficientNetEmbedder, InMemoryStore

    client = ImageSearchClient(embedder=EfficientNetEmbedder(), store=InMemoryStore())
    client.add(["photos/"])
    for match in client.search("query.jpg", k=5):
        print(match.score, match.image_url, match.page_url)

Importing this package loads no torch, open_clip, pinecone or serpapi: the
adapters that need them import them on first use.
"""

from img2img._version import __version__
from img2img.client import ImageSearchClient
from img2img.embedders.clip import ClipEmbedder
from img2img.embedders.efficientnet import EfficientNetEmbedder
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    AuthenticationError,
    BlockedURLError,
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    FetchError,
    ImageError,
    ImageTooLargeError,
    Img2ImgError,
    InvalidFilterError,
    InvalidImageError,
    InvalidMetadataError,
    InvalidVectorError,
    MissingDependencyError,
    ModelUnavailableError,
    RateLimitError,
    ResponseTooLargeError,
    ServiceError,
    ServiceUnavailableError,
    StoreError,
    StoreFormatError,
    UnexpectedContentError,
)
from img2img.models import (
    EmbeddingSpace,
    Failure,
    ImageCandidate,
    IndexInterrupted,
    IndexProgress,
    IndexReport,
    Match,
    VectorRecord,
)
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.net.retry import RetryPolicy
from img2img.protocols import (
    Embedder,
    Fetcher,
    ImageSource,
    PreparingEmbedder,
    TextEmbedder,
    VectorStore,
)
from img2img.sources.folder import FolderSource
from img2img.sources.serpapi.google_images import SerpApiSource
from img2img.sources.static import StaticSource
from img2img.sources.urls import UrlListSource
from img2img.stores.local.store import LocalStore, default_store_path
from img2img.stores.memory import InMemoryStore
from img2img.stores.pinecone.store import PineconeStore

__all__ = [
    "AuthenticationError",
    "BlockedURLError",
    "ClipEmbedder",
    "ConfigurationError",
    "EfficientNetEmbedder",
    "Embedder",
    "EmbeddingSpace",
    "EmbeddingSpaceMismatchError",
    "Failure",
    "FetchError",
    "Fetcher",
    "FolderSource",
    "HashEmbedder",
    "HttpFetcher",
    "ImageCandidate",
    "ImageError",
    "ImageSearchClient",
    "ImageSource",
    "ImageTooLargeError",
    "Img2ImgError",
    "InMemoryStore",
    "IndexInterrupted",
    "IndexProgress",
    "IndexReport",
    "InvalidFilterError",
    "InvalidImageError",
    "InvalidMetadataError",
    "InvalidVectorError",
    "LOOPBACK_NETWORKS",
    "LocalStore",
    "Match",
    "MissingDependencyError",
    "ModelUnavailableError",
    "PineconeStore",
    "PreparingEmbedder",
    "RateLimitError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "SerpApiSource",
    "ServiceError",
    "ServiceUnavailableError",
    "StaticSource",
    "StoreError",
    "StoreFormatError",
    "TextEmbedder",
    "UnexpectedContentError",
    "UrlListSource",
    "VectorRecord",
    "VectorStore",
    "__version__",
    "default_store_path",
]
