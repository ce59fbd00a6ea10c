"""An httpx transport that connects only to addresses the policy allows, within a deadline.

Checking a URL's addresses and then letting the HTTP library resolve the name
again leaves a gap: a hostile DNS server can answer "public" to the check and
"127.0.0.1" to the connection (DNS rebinding). Here the check happens in the
network backend itself: :class:`GuardedBackend` resolves, checks every
address, then opens the socket to one of exactly those addresses. TLS still
uses the URL's host name for SNI and certificate checks, and the pool keeps
connections per host name, so nothing else changes.

The same backend enforces a total deadline: every connect, TLS handshake,
read and write gets at most the time left before :func:`deadline_scope`'s
instant, so a server that trickles one byte a second is cut off on time
rather than after one read timeout per byte.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from img2img.net.guard import AddressPolicy

__all__ = ["GuardedBackend", "GuardedTransport", "deadline_scope"]

# A ContextVar, not an attribute: sync httpx reads and writes on the calling
# thread, so each fetching thread sees only its own deadline.
_DEADLINE: ContextVar[float | None] = ContextVar("img2img_fetch_deadline", default=None)


@contextlib.contextmanager
def deadline_scope(at: float) -> Iterator[None]:
    """Network I/O in this block (on this thread) ends by ``time.monotonic() == at``."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _clamp(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    at = _DEADLINE.get()
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise error("the total deadline for this URL has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """Passes every call through, with timeouts shortened to the time left."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to addresses ``policy`` checked."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._policy.resolve(host, port)
        failure: Exception | None = None
        for address in addresses:  # the resolver's order, as the OS would try them
            try:
                stream = self._sockets.connect_tcp(
                    address,
                    port,
                    _clamp(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None  # resolve() never returns an empty list
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("the guarded transport does not open Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` over a :class:`GuardedBackend`; no proxies, no env settings.

    Proxies are left out on purpose: through a proxy the proxy resolves and
    connects, and the guard would only ever see the proxy's address.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        # HTTPTransport.__init__ is skipped: it would build a pool (and load the
        # CA bundle) only to be replaced. Every other method uses only ``_pool``.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )
