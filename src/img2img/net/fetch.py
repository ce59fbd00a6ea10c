"""HttpFetcher: download image bytes over HTTP(S) safely and within limits.

Per URL: every hop's URL is checked by the :class:`~img2img.net.guard.AddressPolicy`
before it is requested, redirects are followed by hand (at most
``max_redirects``), 429 / 5xx / connection failures are retried with backoff
honouring ``Retry-After``, and everything, retries and waits included, ends by
a total ``deadline``. The body is refused as soon as it is known to be too big
or not an image: by ``Content-Type`` where that is clearly not an image, and
otherwise by its first bytes, whatever the header says. A body the server
compressed anyway is inflated a step at a time and counted after inflating
(:mod:`img2img.net.encoding`), so a gzip bomb stops at the size limit.
Whatever happens, :meth:`HttpFetcher.fetch` raises only
:class:`~img2img.errors.FetchError` and its subclasses.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from img2img._version import __version__
from img2img.arguments import check_timeout, check_whole
from img2img.errors import (
    FetchError,
    Img2ImgError,
    ResponseTooLargeError,
    UnexpectedContentError,
)
from img2img.images import SNIFF_BYTES, sniff_image_type
from img2img.net.encoding import BodyDecoder
from img2img.net.guard import AddressPolicy, IPNetwork, Resolver, system_resolver
from img2img.net.leases import CONNECTIONS_PER_CLIENT, ClientLeases
from img2img.net.retry import Retryable, RetryPolicy, call_with_retries
from img2img.net.retry import parse_retry_after as _parse_retry_after
from img2img.net.transport import GuardedTransport, deadline_scope

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_RETRY",
    "DEFAULT_USER_AGENT",
    "HttpFetcher",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_USER_AGENT = f"img2img/{__version__} (+https://github.com/img2img/img2img)"
#: Seconds for one URL, all redirects, retries and waits included.
DEFAULT_DEADLINE = 30.0
#: Three tries; a ``Retry-After`` over 10 s gives up rather than stall a worker.
DEFAULT_RETRY = RetryPolicy(attempts=3, base_delay=0.5, multiplier=2.0, max_delay=10.0)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Media families that are never images; refused before the body is read.
_NOT_IMAGE_FAMILIES = frozenset({"text", "audio", "video", "font", "multipart", "message", "model"})
_NOT_IMAGE_TYPES = frozenset(
    {
        "image/svg+xml",  # a document with scripts, not pixels Pillow decodes
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/javascript",
        "application/pdf",
        "application/zip",
    }
)


@dataclass(frozen=True)
class _Redirect:
    location: str


def _refuse_by_content_type(value: str) -> bool:
    """True when the declared type rules out an image, so no byte need be read.

    Missing, ``application/octet-stream`` and other unknown types are not
    refused: many image hosts send those, and the first bytes decide instead.
    """
    media = value.split(";", 1)[0].strip().lower()
    if not media:
        return False
    family = media.split("/", 1)[0]
    return (
        family in _NOT_IMAGE_FAMILIES
        or media in _NOT_IMAGE_TYPES
        or media.endswith(("+json", "+xml"))
    )


class HttpFetcher:
    """A thread-safe ``Fetcher`` over pooled ``httpx`` clients, safe for untrusted URLs.

    Args:
        max_bytes: larger bodies are refused while streaming, before they are read whole.
        timeout: seconds for each connect, read and write, and for a pool wait.
        max_redirects: redirects followed per URL; each hop is checked first.
        max_connections: downloads in flight at once (the client's worker count should match).
        user_agent: sent with every request.
        transport: an ``httpx`` transport to use instead of the guarded one. URLs
            are then still checked, resolving names first, but the connection
            is the transport's own, so DNS rebinding is no longer ruled out.
        deadline: seconds for one URL in all: redirects, retries and waits.
        retry: tries and backoff for 429, 5xx and connection failures.
        allowed_networks: private or loopback networks that may be fetched
            anyway, e.g. ``LOOPBACK_NETWORKS`` for tests or an intranet range;
            cloud metadata addresses stay refused.
        resolver: host name to addresses; the system resolver by default.
        sleep: how to wait between tries; injectable for tests.
        verify: TLS verification: ``True`` (system CAs), an ``ssl.SSLContext``
            trusting your own CA, or ``False`` (not advised).
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
        deadline: float = DEFAULT_DEADLINE,
        retry: RetryPolicy = DEFAULT_RETRY,
        allowed_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver = system_resolver,
        sleep: Callable[[float], None] = time.sleep,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        check_whole("max_bytes", max_bytes)
        check_whole("max_connections", max_connections)
        check_whole("max_redirects", max_redirects, least=0)
        check_timeout(timeout)
        check_timeout(deadline, name="deadline")
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.deadline = deadline
        self.retry = retry
        self.policy = AddressPolicy(allowed_networks=allowed_networks, resolver=resolver)
        self._sleep = sleep
        self._closed = False
        self._resolve_before_request = transport is not None
        headers = {
            "User-Agent": user_agent,
            "Accept": "image/*",
            # Images are compressed already; gzip would only hide the real size.
            "Accept-Encoding": "identity",
        }
        if transport is None:
            tls = httpx.create_ssl_context(verify=verify, trust_env=False)  # CA bundle read once
            per_client: int | None = CONNECTIONS_PER_CLIENT

            def transport_for(limits: httpx.Limits) -> httpx.BaseTransport:
                return GuardedTransport(self.policy, limits=limits, verify=tls)

        else:
            per_client = None  # a caller's transport is one pool, whatever the clients

            def transport_for(limits: httpx.Limits) -> httpx.BaseTransport:
                return transport

        def client(connections: int) -> httpx.Client:
            limits = httpx.Limits(max_connections=connections)
            return httpx.Client(
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,  # each hop is checked in fetch()
                limits=limits,
                headers=headers,
                transport=transport_for(limits),
                trust_env=False,  # no proxy from the environment: the guard must see the target
            )

        self._leases = ClientLeases(client, max_connections, per_client)

    def fetch(self, url: str) -> bytes:
        """The body at ``url``, checked to be an image of at most ``max_bytes``.

        Raises :class:`BlockedURLError` (refused address or scheme, here or on a
        redirect), :class:`ResponseTooLargeError`, :class:`UnexpectedContentError`
        or :class:`FetchError` (HTTP errors, timeouts, too many redirects).
        """
        if self._closed:
            raise FetchError(f"cannot fetch {url}: the fetcher is closed", url=url)
        try:
            return self._fetch(url)
        except Img2ImgError:
            raise
        except Exception as exc:
            # URLs and servers are hostile: whatever a library below raises for
            # one of them (idna, h11, ssl...) is that URL's failure, not the run's.
            raise FetchError(
                f"cannot fetch {url!r}: unexpected {type(exc).__name__}: {exc}", url=url
            ) from exc

    def _fetch(self, url: str) -> bytes:
        end = time.monotonic() + self.deadline
        with deadline_scope(end):
            current = url
            for _hop in range(self.max_redirects + 1):
                self._check(current, origin=url)
                outcome = call_with_retries(
                    functools.partial(self._attempt, current, origin=url, end=end),
                    self.retry,
                    deadline=end,
                    sleep=self._sleep,
                )
                if isinstance(outcome, bytes):
                    return outcome
                current = outcome.location
        raise FetchError(f"more than {self.max_redirects} redirects from {url}", url=url)

    def _check(self, hop: str, *, origin: str) -> None:
        try:
            parsed = self.policy.check_url(hop)
            if self._resolve_before_request:
                default_port = 443 if parsed.scheme == "https" else 80
                host = parsed.raw_host.decode("ascii")
                self.policy.resolve(host, parsed.port or default_port)
        except FetchError as exc:
            raise type(exc)(_via(exc, hop, origin), url=origin) from exc

    def _attempt(self, url: str, *, origin: str, end: float) -> bytes | _Redirect:
        client = self._leases.take(timeout=end - time.monotonic())
        if client is None:
            raise FetchError(f"no free connection before the deadline for {origin}", url=origin)
        try:
            with client.stream("GET", url) as response:
                return self._read(response, url, origin, end)
        except FetchError as exc:
            if exc.url is None:  # raised in the transport, which knows no URL
                raise type(exc)(_via(exc, url, origin), url=origin) from exc
            raise
        except httpx.TimeoutException as exc:
            over = time.monotonic() >= end
            reason = f"the {self.deadline:g} s deadline passed" if over else "timed out"
            raise Retryable(FetchError(f"{reason} fetching {origin}", url=origin)) from exc
        except httpx.ConnectError as exc:
            if _tls_failure(exc):  # a bad certificate stays bad: no retry
                raise FetchError(f"TLS failed for {origin}: {exc}", url=origin) from exc
            raise Retryable(FetchError(f"cannot fetch {origin}: {exc}", url=origin)) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise Retryable(FetchError(f"cannot fetch {origin}: {exc}", url=origin)) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"cannot fetch {origin}: {exc}", url=origin) from exc
        finally:
            self._leases.give_back(client)

    def _read(
        self, response: httpx.Response, url: str, origin: str, end: float
    ) -> bytes | _Redirect:
        status = response.status_code
        if status in _REDIRECTS:
            location = response.headers.get("location")
            if not location:
                raise FetchError(f"HTTP {status} without a Location from {url}", url=origin)
            return _Redirect(str(response.url.join(location)))
        if status in _RETRIED:
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            error = FetchError(f"HTTP {status} from {url}", url=origin, status_code=status)
            raise Retryable(error, retry_after=retry_after)
        if status >= 300:
            raise FetchError(f"HTTP {status} from {url}", url=origin, status_code=status)
        content_type = response.headers.get("content-type", "")
        if _refuse_by_content_type(content_type):
            raise UnexpectedContentError(f"{url} sent {content_type}, not an image", url=origin)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ResponseTooLargeError(
                f"{url} declares {int(declared):,} bytes, over the limit of {self.max_bytes:,}",
                url=origin,
            )
        return self._read_body(response, url, origin, end)

    def _read_body(self, response: httpx.Response, url: str, origin: str, end: float) -> bytes:
        decoder = BodyDecoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        sniffed = False

        def take(piece: bytes) -> None:
            nonlocal sniffed
            body.extend(piece)
            if len(body) > self.max_bytes:
                raise ResponseTooLargeError(
                    f"{url} sent more than {self.max_bytes:,} bytes", url=origin
                )
            if not sniffed and len(body) >= SNIFF_BYTES:
                self._sniff(body, url, origin, response)
                sniffed = True

        # Raw bytes, decoded here step by step: httpx would inflate each piece
        # whole, and a gzip bomb must not get past the size limit that way.
        for chunk in response.iter_raw():
            # The guarded transport already stops reads at the deadline; this
            # check bounds a custom transport too, one read timeout late at worst.
            if time.monotonic() >= end:
                raise FetchError(
                    f"the {self.deadline:g} s deadline passed reading {origin}", url=origin
                )
            for piece in decoder.feed(chunk):
                take(piece)
        take(decoder.finish())
        if not sniffed:
            self._sniff(body, url, origin, response)
        return bytes(body)

    @staticmethod
    def _sniff(body: bytearray, url: str, origin: str, response: httpx.Response) -> None:
        if sniff_image_type(bytes(body[:SNIFF_BYTES])) is None:
            declared = response.headers.get("content-type") or "no Content-Type"
            what = "an empty body" if not body else "bytes that are not a known image format"
            raise UnexpectedContentError(f"{url} sent {what} ({declared})", url=origin)

    def close(self) -> None:
        self._closed = True
        self._leases.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _via(exc: FetchError, hop: str, origin: str) -> str:
    """The error's message naming the URL once, and the redirect that led there."""
    message = str(exc) if exc.url else f"{hop}: {exc}"
    return message if hop == origin else f"{message} (redirected from {origin})"
