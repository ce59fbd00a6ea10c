"""SerpApiImageUploader: a local image handed to SerpAPI's Image API, so Google Lens can see it.

What SerpAPI documents (https://serpapi.com/google-lens-upload-an-image and
https://serpapi.com/image-api):

- ``POST https://serpapi.com/image`` as ``multipart/form-data``, the image in a
  field named ``image`` (at most 500 KB) and the key in ``api_key``;
- the answer is ``{"message": "Image uploaded successfully.", "image_id": "..."}``;
- ``engine=google_lens`` then takes ``image_id=...`` in place of ``url=...``.

SerpAPI has said the upload costs no search credit and that an ``image_id``
stays usable for about ten minutes. It documents no error bodies for this
endpoint, so any refusal that is not a bad key, a rate limit or an outage
becomes :class:`~img2img.errors.ImageUploadError`, with SerpAPI's own words.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from img2img.arguments import check_timeout
from img2img.errors import (
    AuthenticationError,
    ConfigurationError,
    ImageUploadError,
    RateLimitError,
    ServiceError,
    ServiceUnavailableError,
)
from img2img.images import SNIFF_BYTES, decode_image, sniff_image_type
from img2img.models import UploadedImage
from img2img.net.retry import RetryPolicy
from img2img.sources.serpapi.google_images import BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_RETRY
from img2img.sources.serpapi.http import FormPost, resolve_key
from img2img.sources.settings import service_url

__all__ = [
    "IMAGE_ID_LIFETIME",
    "MAX_UPLOAD_BYTES",
    "UPLOAD_PATH",
    "SerpApiImageUploader",
    "fit_for_upload",
]

UPLOAD_PATH = "/image"
#: SerpAPI's documented limit is 500 KB; counted in thousands, the safe reading.
MAX_UPLOAD_BYTES = 500_000
#: Seconds an ``image_id`` stays usable, as SerpAPI has stated it.
IMAGE_ID_LIFETIME = 600.0
# Sent as they are when small enough; anything else is re-encoded as JPEG,
# since SerpAPI names no other format it takes.
_SENT_AS_IS = {"jpeg": "image/jpeg", "png": "image/png"}
# Long sides tried, largest first, until the JPEG fits; Lens needs no more detail.
_LONG_SIDES = (2048, 1600, 1280, 1024, 800, 640, 480, 320)
_JPEG_QUALITY = 88

_NO_UPLOAD_HELP = (
    "pass a public http(s) URL of the image instead, or give the source an uploader "
    "that puts the image at a URL you control (see docs/adapters/google_lens.md)"
)


def fit_for_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[bytes, str]:
    """``data`` ready to upload: the bytes and their content type, at most ``max_bytes`` long.

    A JPEG or PNG that fits is sent untouched. Anything else, or anything too
    big, is decoded and saved as a JPEG, shrunk step by step (long side 2048,
    1600, … 320 px) until it fits: reverse search matches the picture, not the file.

    Raises :class:`~img2img.errors.InvalidImageError` when ``data`` is not an
    image, :class:`~img2img.errors.ImageUploadError` when not even the smallest
    step fits.
    """
    kind = sniff_image_type(data[:SNIFF_BYTES])
    if kind in _SENT_AS_IS and len(data) <= max_bytes:
        return data, _SENT_AS_IS[kind]
    from PIL import Image

    image = decode_image(data, working_size=_LONG_SIDES[0])
    for side in _LONG_SIDES:
        if max(image.size) > side:
            image.thumbnail((side, side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue(), "image/jpeg"
    raise ImageUploadError(
        f"cannot make the image fit the upload limit of {max_bytes:,} bytes; {_NO_UPLOAD_HELP}"
    )


class SerpApiImageUploader:
    """An :class:`~img2img.protocols.ImageUploader` over SerpAPI's Image API.

    Args:
        api_key: your SerpAPI key; defaults to the ``SERPAPI_API_KEY``
            environment variable, read when ``upload`` is called.
        base_url: where SerpAPI is; defaults to ``SERPAPI_BASE_URL``, else
            ``https://serpapi.com``. Tests point it at
            :class:`img2img.testing.fake_serpapi.FakeSerpApi`.
        timeout: seconds to wait for one answer.
        retry: tries and waits for 429, 5xx and network failures.
        max_bytes: the largest body sent; bigger images are shrunk to fit.
        sleep, clock: injectable for tests (``clock`` gives Unix seconds).

    ``upload`` raises :class:`~img2img.errors.AuthenticationError` for a bad
    key and :class:`~img2img.errors.ImageUploadError` when SerpAPI will not
    take the image (a plan without uploads, a format it refuses).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = check_timeout(timeout)
        if max_bytes < 1024:
            raise ConfigurationError(f"max_bytes must be at least 1024, got {max_bytes!r}")
        self._api_key = api_key
        self.base_url = service_url(base_url, "base_url", BASE_URL_ENV, DEFAULT_BASE_URL)
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"SerpApiImageUploader(base_url={self.base_url!r}, max_bytes={self.max_bytes})"

    def upload(self, data: bytes) -> UploadedImage:
        """Send ``data`` (an encoded image) to SerpAPI; the ``image_id`` Lens takes."""
        key = resolve_key(self._api_key, "SerpApiImageUploader")
        body, content_type = fit_for_upload(data, self.max_bytes)
        post = FormPost(
            base_url=self.base_url,
            path=UPLOAD_PATH,
            api_key=key,
            timeout=self.timeout,
            retry=self.retry,
            sleep=self._sleep,
        )
        extension = content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        try:
            payload = post({"image": (f"image.{extension}", body, content_type)})
        except AuthenticationError as exc:
            # A 403 without "Invalid API key" is a key that works but may not do this.
            if exc.status_code == 403 and "invalid api key" not in str(exc).lower():
                raise ImageUploadError(
                    f"SerpAPI refused the image upload (HTTP 403): this key or plan may not "
                    f"upload images; {_NO_UPLOAD_HELP}",
                    status_code=403,
                ) from exc
            raise
        except (RateLimitError, ServiceUnavailableError):
            raise
        except ServiceError as exc:
            raise ImageUploadError(
                f"SerpAPI refused the image upload ({exc}); {_NO_UPLOAD_HELP}",
                status_code=exc.status_code,
            ) from exc
        image_id = payload.get("image_id") if payload else None
        if not isinstance(image_id, str) or not image_id.strip():
            raise ImageUploadError(
                f"SerpAPI's upload answer holds no image_id; {_NO_UPLOAD_HELP}", status_code=200
            )
        return UploadedImage(
            upload_id=image_id.strip(),
            expires_at=self._clock() + IMAGE_ID_LIFETIME,
            size_bytes=len(body),
        )
