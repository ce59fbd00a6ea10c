"""What SerpAPI's reverse-image engines share: one search by ``image_url``, entries by kind.

``bing_reverse_image`` and ``google_reverse_image`` differ only in their engine
name, which reply key holds which kind of claim, and how an entry reads; each
is a small module beside this one (``bing_reverse.py``, ``google_reverse.py``)
that hands an :class:`EngineSpec` to :class:`SerpApiReverseSource`.

Both take the query image as a public ``image_url`` only. A local image goes
through the source's uploader (SerpAPI's image upload, the route Lens uses, by
default); an uploader that gives back a public URL serves these engines too,
while SerpAPI's own upload gives back an ``image_id`` that only Lens documents,
so then the lookup says what to pass instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from img2img.arguments import check_timeout
from img2img.errors import ConfigurationError
from img2img.loading import ImageInput
from img2img.models import ImageCandidate, MatchKind, UploadedImage
from img2img.net.retry import RetryPolicy
from img2img.protocols import ImageUploader
from img2img.sources.reverse_parts import EntryReader, read_claims, remote_or_bytes
from img2img.sources.serpapi.google_images import BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_RETRY
from img2img.sources.serpapi.http import API_KEY_ENV, SearchCall, resolve_key
from img2img.sources.serpapi.upload import SerpApiImageUploader
from img2img.sources.settings import service_url

__all__ = ["EngineSpec", "SerpApiReverseSource"]


@dataclass(frozen=True)
class EngineSpec:
    """One SerpAPI reverse-image engine: its name, and the reply key and reader per kind."""

    engine: str
    label: str
    keys: Mapping[MatchKind, tuple[str, EntryReader]]
    max_side: int | None = None


class SerpApiReverseSource:
    """A :class:`~img2img.protocols.ReverseImageSource` over one SerpAPI reverse-image engine.

    Args:
        spec: which engine, and how its reply reads.
        api_key: your SerpAPI key; defaults to ``SERPAPI_API_KEY``.
        params: extra engine parameters (``mkt``, ``hl``, ``gl`` …).
        no_cache: search again (and pay) even when SerpAPI holds the same
            search from the last hour; by default a repeat within the hour is
            served from SerpAPI's cache at no cost.
        timeout, retry: per request.
        uploader: how a local image becomes visible; see the module docstring.
        base_url: defaults to ``SERPAPI_BASE_URL``, else ``https://serpapi.com``.
        sleep: how to wait between retries.
    """

    key_env = API_KEY_ENV

    def __init__(
        self,
        spec: EngineSpec,
        api_key: str | None = None,
        *,
        params: Mapping[str, str] | None = None,
        no_cache: bool = False,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        uploader: ImageUploader | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self.params = {k: str(v).strip() for k, v in (params or {}).items() if str(v).strip()}
        if no_cache:
            self.params["no_cache"] = "true"
        self.timeout = check_timeout(timeout)
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self._api_key = api_key
        self._sleep = sleep
        self.uploader: ImageUploader = uploader or SerpApiImageUploader(
            api_key, base_url=self.base_url, timeout=timeout, retry=self.retry, sleep=sleep
        )

    @property
    def kinds(self) -> tuple[MatchKind, ...]:
        return tuple(self.spec.keys)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(params={self.params!r}, uploader={self.uploader!r}, "
            f"base_url={self.base_url!r})"
        )

    def sees_local_images(self) -> bool:
        """Whether a local picture can be asked about: only through an uploader that puts
        it at a public URL, not SerpAPI's own (its ids are for Lens)."""
        return not isinstance(self.uploader, SerpApiImageUploader)

    def upload(self, data: bytes) -> UploadedImage:
        """Hand a local image to the uploader; see the module docstring for what comes back."""
        return self.uploader.upload(data)

    def lookup(
        self, image: ImageInput | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]:
        """Yield up to ``limit`` claims of ``kind``; the search is sent when the first is asked for."""
        if kind not in self.spec.keys:
            raise ConfigurationError(
                f"{self.spec.label} offers {' and '.join(self.spec.keys)} searches, not {kind!r}"
            )
        key = resolve_key(self._api_key, type(self).__name__)
        seen = remote_or_bytes(image)
        call = SearchCall(
            base_url=self.base_url,
            api_key=key,
            timeout=self.timeout,
            retry=self.retry,
            sleep=self._sleep,
        )
        return self._results(call, seen, kind, limit)

    def _image_url(self, image: str | UploadedImage | bytes) -> str:
        if isinstance(image, bytes):
            image = self.upload(image)
        if isinstance(image, str):
            return image
        if image.url is None:
            raise ConfigurationError(
                f"{self.spec.label} takes a public image URL (image_url) only, and the upload "
                "gave an id: pass the picture's http(s) URL, or give the source an uploader "
                "that puts the image at a public URL"
            )
        return image.url

    def _results(
        self, call: SearchCall, image: str | UploadedImage | bytes, kind: MatchKind, limit: int
    ) -> Iterator[ImageCandidate]:
        if limit <= 0:
            return
        params = {"engine": self.spec.engine, "image_url": self._image_url(image), **self.params}
        payload = call(params)
        reply_key, read = self.spec.keys[kind]
        yield from read_claims(payload.get(reply_key) if payload else None, read, limit)
