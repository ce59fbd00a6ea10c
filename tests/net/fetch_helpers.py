"""Shared pieces of the HttpFetcher tests: replies, recorders, a resolver."""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image

from img2img.net.fetch import HttpFetcher
from img2img.net.retry import RetryPolicy
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from stand_ins import TableResolver

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, multiplier=2.0, max_delay=5.0, jitter=0.0)


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png_bytes()


def image_reply(body: bytes = PNG, content_type: str | None = "image/png") -> Reply:
    return Reply(body=body, headers={"Content-Type": content_type} if content_type else {})


class Sleeps(list[float]):
    """Records the waits between tries instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Tripwire(TableResolver):
    """A resolver for tests that must never leave this machine: only 127.0.0.1 resolves,
    besides the names given."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        super().__init__({"127.0.0.1": ["127.0.0.1"], **(table or {})})


def loopback_fetcher(sleeps: Sleeps) -> HttpFetcher:
    """Only 127.0.0.1 allowed, explicitly; fast retries whose waits land in ``sleeps``."""
    return HttpFetcher(
        allowed_networks=["127.0.0.1/32"],
        retry=FAST_RETRY,
        deadline=5.0,
        timeout=5.0,
        resolver=Tripwire(),
        sleep=sleeps,
    )


def redirecting(routes: dict[str, str]) -> LoopbackServer:
    """Redirects each path in ``routes`` to its target; anything else is the image."""

    def handle(request: RecordedRequest) -> Reply:
        if request.path in routes:
            return Reply(status=302, headers={"Location": routes[request.path]})
        return image_reply()

    return LoopbackServer(handle)


def trickling_reply() -> Reply:
    """A PNG that never ends: a valid header, then one byte every 0.05 s forever."""

    def trickle() -> Iterator[bytes]:
        yield PNG[:32]
        while True:
            yield b"x"

    return Reply(headers={"Content-Type": "image/png"}, chunks=trickle(), chunk_delay=0.05)
