"""img2img: reverse image search as a library.

    from img2img import ImageSearchClient, FolderSource, EfficientNetEmbedder, InMemoryStore

    client = ImageSearchClient(embedder=EfficientNetEmbedder(), store=InMemoryStore())
    client.add(["photos/"])
    for match in client.search("query.jpg", k=5):
        print(match.score, match.image_url, match.page_url)
    for posting in client.find_postings("query.jpg"):   # the same picture, verified
        print(posting.relation, posting.page_url)
    for posting in client.locate("query.jpg"):          # on the web: Google Lens, verified, kept
        print(posting.relation, posting.page_url)

Importing this package loads no torch, open_clip, pinecone, serpapi or cv2: the
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
    ImageUploadError,
    Img2ImgError,
    InvalidFilterError,
    InvalidImageError,
    InvalidMetadataError,
    InvalidVectorError,
    MissingDependencyError,
    ModelUnavailableError,
    QuotaExhaustedError,
    RateLimitError,
    ResponseTooLargeError,
    ServiceError,
    ServiceUnavailableError,
    StoreError,
    StoreFormatError,
    StoreNotFoundError,
    UnexpectedContentError,
)
from img2img.locate.results import Claim, Located, LocateReport
from img2img.models import (
    EmbeddingSpace,
    Evidence,
    Failure,
    ImageCandidate,
    IndexInterrupted,
    IndexProgress,
    IndexReport,
    LookupReport,
    Match,
    PartFailure,
    PictureGroup,
    Posting,
    Postings,
    ReverseLookup,
    Unverified,
    UploadedImage,
    VectorRecord,
)
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.net.retry import RetryPolicy
from img2img.postings.cache import PictureCache
from img2img.postings.verify import Verification, verify_copy
from img2img.protocols import (
    Embedder,
    Fetcher,
    ImageSource,
    ImageUploader,
    PreparingEmbedder,
    ReverseImageSource,
    SourceWithParts,
    TextEmbedder,
    VectorStore,
)
from img2img.report.html import write_html
from img2img.reverse import reverse_lookup
from img2img.sources.bluesky.source import BlueskySource
from img2img.sources.discord.source import DiscordSource
from img2img.sources.folder import FolderSource
from img2img.sources.patreon.source import PatreonSource
from img2img.sources.reddit.source import RedditSource
from img2img.sources.saucenao.source import SauceNaoSource
from img2img.sources.serpapi.bing_reverse import BingReverseImageSource
from img2img.sources.serpapi.google_images import SerpApiSource
from img2img.sources.serpapi.google_lens import GoogleLensSource
from img2img.sources.serpapi.google_reverse import GoogleReverseImageSource
from img2img.sources.serpapi.upload import SerpApiImageUploader
from img2img.sources.sites import SOCIAL_MEDIA_SITES
from img2img.sources.static import StaticSource
from img2img.sources.tineye.source import TinEyeSource
from img2img.sources.urls import UrlListSource
from img2img.sources.yandex.source import YandexSource
from img2img.stats import StoreStats
from img2img.stores.local.store import LocalStore, default_store_path
from img2img.stores.memory import InMemoryStore
from img2img.stores.pinecone.store import PineconeStore
from img2img.sync import SyncReport

__all__ = [
    "AuthenticationError",
    "BingReverseImageSource",
    "BlockedURLError",
    "BlueskySource",
    "Claim",
    "ClipEmbedder",
    "ConfigurationError",
    "DiscordSource",
    "EfficientNetEmbedder",
    "Embedder",
    "EmbeddingSpace",
    "EmbeddingSpaceMismatchError",
    "Evidence",
    "Failure",
    "FetchError",
    "Fetcher",
    "FolderSource",
    "GoogleLensSource",
    "GoogleReverseImageSource",
    "HashEmbedder",
    "HttpFetcher",
    "ImageCandidate",
    "ImageError",
    "ImageSearchClient",
    "ImageSource",
    "ImageTooLargeError",
    "ImageUploadError",
    "ImageUploader",
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
    "LocateReport",
    "Located",
    "LookupReport",
    "Match",
    "MissingDependencyError",
    "ModelUnavailableError",
    "PartFailure",
    "PatreonSource",
    "PictureCache",
    "PictureGroup",
    "PineconeStore",
    "Posting",
    "Postings",
    "PreparingEmbedder",
    "QuotaExhaustedError",
    "RateLimitError",
    "RedditSource",
    "ResponseTooLargeError",
    "RetryPolicy",
    "ReverseImageSource",
    "ReverseLookup",
    "SOCIAL_MEDIA_SITES",
    "SauceNaoSource",
    "SerpApiImageUploader",
    "SerpApiSource",
    "ServiceError",
    "ServiceUnavailableError",
    "SourceWithParts",
    "StaticSource",
    "StoreError",
    "StoreFormatError",
    "StoreNotFoundError",
    "StoreStats",
    "SyncReport",
    "TextEmbedder",
    "TinEyeSource",
    "UnexpectedContentError",
    "Unverified",
    "UploadedImage",
    "UrlListSource",
    "VectorRecord",
    "VectorStore",
    "Verification",
    "YandexSource",
    "__version__",
    "default_store_path",
    "reverse_lookup",
    "verify_copy",
    "write_html",
]
