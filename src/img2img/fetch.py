"""HttpFetcher: download image bytes over HTTP(S) with limits."""

from __future__ import annotations

import httpx

from img2img._version import __version__
from img2img.errors import FetchError, ResponseTooLargeError, UnexpectedContentError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_USER_AGENT", "HttpFetcher"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_USER_AGENT = f"img2img/{__version__} (+https://github.com/img2img/img2img)"


class HttpFetcher:
    """A thread-safe ``Fetcher`` built on one pooled ``httpx.Client``.

    Args:
        max_bytes: larger bodies are refused while streaming, before they are read whole.
        timeout: seconds for connect, read, write and pool waits each.
        max_redirects: redirects followed per URL.
        max_connections: simultaneous connections (the client's worker count should match).
        transport: an ``httpx`` transport, for tests.
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = 10.0,
        max_redirects: int = 3,
        max_connections: int = 16,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=max_redirects,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"User-Agent": user_agent, "Accept": "image/*"},
            transport=transport,
        )

    def fetch(self, url: str) -> bytes:
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code} from {url}", url=url)
                content_type = (
                    response.headers.get("content-type", "").split(";")[0].strip().lower()
                )
                if content_type and not content_type.startswith(
                    ("image/", "application/octet-stream")
                ):
                    raise UnexpectedContentError(
                        f"{url} sent {content_type}, not an image", url=url
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    raise ResponseTooLargeError(
                        f"{url} declares {int(declared):,} bytes, over the limit of {self.max_bytes:,}",
                        url=url,
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise ResponseTooLargeError(
                            f"{url} sent more than {self.max_bytes:,} bytes", url=url
                        )
                return bytes(body)
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"too many redirects from {url}", url=url) from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out fetching {url}", url=url) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch {url}: {exc}", url=url) from exc

    def close(self) -> None:
        self._client.close()
