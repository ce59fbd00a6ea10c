"""HttpFetcher against real HTTP servers on 127.0.0.1: content, size, deadlines, retries."""

from __future__ import annotations

import email.utils
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fetch_helpers import FAST_RETRY, PNG, Sleeps, Tripwire, image_reply, trickling_reply

from img2img.errors import (
    ConfigurationError,
    FetchError,
    ResponseTooLargeError,
    UnexpectedContentError,
)
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.net.retry import RetryPolicy
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

# --- the happy path ------------------------------------------------------------------------


def test_fetches_an_image_and_identifies_itself(fetcher: HttpFetcher) -> None:
    with LoopbackServer(lambda r: image_reply()) as server:
        assert fetcher.fetch(server.url + "/cat.png") == PNG
    (request,) = server.requests
    assert request.path == "/cat.png"
    assert request.headers["user-agent"].startswith("img2img/")
    assert request.headers["accept"] == "image/*"
    assert request.headers["accept-encoding"] == "identity"


def test_custom_user_agent() -> None:
    with (
        LoopbackServer(lambda r: image_reply()) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, user_agent="my-crawler/2.0") as fetcher,
    ):
        fetcher.fetch(server.url + "/a.png")
    assert server.requests[0].headers["user-agent"] == "my-crawler/2.0"


@pytest.mark.parametrize(
    "content_type", [None, "application/octet-stream", "image/jpeg", "binary/x"]
)
def test_magic_bytes_decide_when_the_type_is_vague_or_wrong(
    fetcher: HttpFetcher, content_type: str | None
) -> None:
    with LoopbackServer(lambda r: image_reply(content_type=content_type)) as server:
        assert fetcher.fetch(server.url + "/a") == PNG


# --- wrong content -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=utf-8",
        "application/json",
        "image/svg+xml",
        "video/mp4",
        "application/rss+xml",
    ],
)
def test_types_that_are_never_images_are_refused(fetcher: HttpFetcher, content_type: str) -> None:
    with (
        LoopbackServer(lambda r: image_reply(content_type=content_type)) as server,
        pytest.raises(UnexpectedContentError, match="not an image") as info,
    ):
        fetcher.fetch(server.url + "/page")
    assert info.value.url == server.url + "/page"
    assert len(server.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<!doctype html><html><body>Not found</body></html>", "not a known image format"),
        (b"", "empty body"),
        (b"\x89PNG", "not a known image format"),
    ],
)
def test_an_image_type_with_a_non_image_body_is_refused(
    fetcher: HttpFetcher, body: bytes, words: str
) -> None:
    with (
        LoopbackServer(lambda r: image_reply(body, "image/jpeg")) as server,
        pytest.raises(UnexpectedContentError, match=words),
    ):
        fetcher.fetch(server.url + "/fake.jpg")


def test_http_errors_are_fetch_errors_and_4xx_is_not_retried(fetcher: HttpFetcher) -> None:
    with (
        LoopbackServer(lambda r: Reply(status=404, body=b"gone")) as server,
        pytest.raises(FetchError, match="HTTP 404"),
    ):
        fetcher.fetch(server.url + "/missing.png")
    assert len(server.requests) == 1


# --- size limits ---------------------------------------------------------------------------


def test_declared_oversized_body_is_refused() -> None:
    big = PNG + b"\0" * 5000
    # Streamed with its true length declared, so the server shrugs off the
    # client hanging up unread (which is the point) instead of printing a traceback.
    declared = Reply(
        headers={"Content-Type": "image/png", "Content-Length": str(len(big))}, chunks=[big]
    )
    with (
        LoopbackServer(lambda r: declared) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, max_bytes=4096) as fetcher,
    ):
        assert len(big) > fetcher.max_bytes
        with pytest.raises(ResponseTooLargeError, match="declares"):
            fetcher.fetch(server.url + "/big.png")
        assert len(server.requests) == 1


def test_endless_body_without_length_is_cut_at_the_limit() -> None:
    sent = itertools.count()

    def endless() -> Iterator[bytes]:
        yield PNG[:64]
        while True:
            next(sent)
            yield b"\0" * 4096

    with (
        LoopbackServer(
            lambda r: Reply(headers={"Content-Type": "image/png"}, chunks=endless())
        ) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, max_bytes=100_000) as fetcher,
    ):
        start = time.monotonic()
        with pytest.raises(ResponseTooLargeError, match="more than 100,000 bytes"):
            fetcher.fetch(server.url + "/forever.png")
        assert time.monotonic() - start < 2.0


def test_a_body_exactly_at_the_limit_is_accepted() -> None:
    with (
        LoopbackServer(lambda r: image_reply()) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, max_bytes=len(PNG)) as fetcher,
    ):
        assert fetcher.fetch(server.url + "/a.png") == PNG


# --- slow and hostile servers --------------------------------------------------------------


def test_a_trickling_server_is_cut_off_by_the_total_deadline() -> None:
    reply = trickling_reply()
    with (
        LoopbackServer(lambda r: reply) as server,
        # Each byte arrives well within the 10 s read timeout: only the deadline can stop it.
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, timeout=10.0, deadline=1.0) as fetcher,
    ):
        start = time.monotonic()
        with pytest.raises(FetchError, match="deadline") as info:
            fetcher.fetch(server.url + "/slow.png")
        elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 1.6
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


def test_a_custom_transport_is_cut_off_by_the_deadline_too() -> None:
    reply = trickling_reply()
    with (
        LoopbackServer(lambda r: reply) as server,
        HttpFetcher(
            allowed_networks=LOOPBACK_NETWORKS,
            timeout=10.0,
            deadline=0.5,
            transport=httpx.HTTPTransport(),
        ) as fetcher,
    ):
        start = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            fetcher.fetch(server.url + "/slow.png")
        assert time.monotonic() - start < 1.0


class Stalling:
    """A handler that answers only once released (or after 5 s), for servers that hang.

    Its late answer is streamed, so writing to the socket the client has
    given up on ends quietly instead of printing a server traceback.
    """

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, request: RecordedRequest) -> Reply:
        self.release.wait(5.0)
        return Reply(headers={"Content-Type": "image/png"}, chunks=[PNG])


@pytest.fixture
def stalling() -> Iterator[Stalling]:
    handler = Stalling()
    yield handler
    handler.release.set()


def test_a_server_that_never_answers_is_cut_off_by_the_deadline(stalling: Stalling) -> None:
    with (
        LoopbackServer(stalling) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, timeout=10.0, deadline=0.5) as fetcher,
    ):
        start = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            fetcher.fetch(server.url + "/hang.png")
        assert time.monotonic() - start < 1.0


def test_a_per_read_timeout_still_applies_inside_the_deadline(stalling: Stalling) -> None:
    sleeps = Sleeps()
    with (
        LoopbackServer(stalling) as server,
        HttpFetcher(
            allowed_networks=LOOPBACK_NETWORKS,
            timeout=0.2,
            deadline=10.0,
            retry=RetryPolicy(attempts=2, base_delay=0.01),
            sleep=sleeps,
        ) as fetcher,
        pytest.raises(FetchError, match="timed out"),
    ):
        fetcher.fetch(server.url + "/slow.png")
    assert len(server.requests) == 2  # a timeout is worth one more try
    assert len(sleeps) == 1


# --- retries -------------------------------------------------------------------------------


def failing_then_ok(*failures: Reply) -> LoopbackServer:
    replies = iter(failures)
    return LoopbackServer(lambda r: next(replies, image_reply()))


def test_429_is_retried_after_the_servers_retry_after(fetcher: HttpFetcher, sleeps: Sleeps) -> None:
    with failing_then_ok(Reply(status=429, headers={"Retry-After": "2"})) as server:
        assert fetcher.fetch(server.url + "/a.png") == PNG
    assert len(server.requests) == 2
    assert sleeps == [2.0]


def test_retry_after_as_an_http_date(fetcher: HttpFetcher, sleeps: Sleeps) -> None:
    date = email.utils.formatdate(time.time() + 3, usegmt=True)
    with failing_then_ok(Reply(status=503, headers={"Retry-After": date})) as server:
        assert fetcher.fetch(server.url + "/a.png") == PNG
    (wait,) = sleeps
    assert 1.5 <= wait <= 3.0


def test_5xx_is_retried_with_growing_backoff(fetcher: HttpFetcher, sleeps: Sleeps) -> None:
    with failing_then_ok(Reply(status=503), Reply(status=502)) as server:
        assert fetcher.fetch(server.url + "/a.png") == PNG
    assert len(server.requests) == 3
    assert sleeps == [0.01, 0.02]


def test_gives_up_after_the_last_try(fetcher: HttpFetcher) -> None:
    with (
        LoopbackServer(lambda r: Reply(status=500)) as server,
        pytest.raises(FetchError, match="HTTP 500"),
    ):
        fetcher.fetch(server.url + "/a.png")
    assert len(server.requests) == FAST_RETRY.attempts


def test_a_retry_after_beyond_the_cap_gives_up_at_once(
    fetcher: HttpFetcher, sleeps: Sleeps
) -> None:
    with (
        LoopbackServer(lambda r: Reply(status=429, headers={"Retry-After": "3600"})) as server,
        pytest.raises(FetchError, match="HTTP 429"),
    ):
        fetcher.fetch(server.url + "/a.png")
    assert len(server.requests) == 1
    assert sleeps == []


def test_real_waits_stop_at_the_deadline() -> None:
    with (
        LoopbackServer(lambda r: Reply(status=503, headers={"Retry-After": "0.4"})) as server,
        HttpFetcher(
            allowed_networks=LOOPBACK_NETWORKS,
            deadline=1.0,
            retry=RetryPolicy(attempts=10, base_delay=0.01, max_delay=5.0),
        ) as fetcher,
    ):
        start = time.monotonic()
        with pytest.raises(FetchError, match="HTTP 503"):
            fetcher.fetch(server.url + "/a.png")
        assert time.monotonic() - start < 1.0
    assert len(server.requests) == 3  # at 0, 0.4 and 0.8 s; a wait to 1.2 s is not started


def test_connection_refused_is_retried_then_reported() -> None:
    with LoopbackServer(lambda r: image_reply()) as gone:
        url = gone.url + "/a.png"
    sleeps = Sleeps()
    with (
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, retry=FAST_RETRY, sleep=sleeps) as fetcher,
        pytest.raises(FetchError, match="cannot fetch") as info,
    ):
        fetcher.fetch(url)
    assert len(sleeps) == FAST_RETRY.attempts - 1
    assert info.value.url == url
    assert isinstance(
        info.value.__cause__, httpx.ConnectError
    )  # the vendor error is the cause only


# --- concurrency and lifecycle ---------------------------------------------------------------


def fetch_at_once(
    handler: Callable[[RecordedRequest], Reply], *, count: int, connections: int
) -> list[bytes]:
    """``count`` URLs of a server answering with ``handler``, fetched from ``count`` threads
    at once by a fetcher of ``connections`` connections."""
    with (
        LoopbackServer(handler) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, max_connections=connections) as fetcher,
        ThreadPoolExecutor(count) as pool,
    ):
        return list(pool.map(fetcher.fetch, [f"{server.url}/{i}.png" for i in range(count)]))


def test_concurrent_downloads_are_capped() -> None:
    lock = threading.Lock()
    in_flight = [0]
    peak = [0]

    def slow(request: RecordedRequest) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return image_reply()

    assert fetch_at_once(slow, count=6, connections=2) == [PNG] * 6
    assert peak[0] == 2


def test_every_download_in_flight_is_on_the_wire_at_once() -> None:
    # 20 connections are spread over pools of 8, 8 and 4; the server lets no
    # reply go until all 20 requests have arrived, so one request left queuing
    # inside a pool would time the others out.
    arrived = threading.Barrier(20, timeout=5)

    def meet(request: RecordedRequest) -> Reply:
        arrived.wait()
        return image_reply()

    assert fetch_at_once(meet, count=20, connections=20) == [PNG] * 20


def test_one_thread_fetching_in_turn_reuses_one_connection() -> None:
    resolver = Tripwire()  # the guarded transport resolves once per new connection
    with (
        LoopbackServer(lambda r: image_reply()) as server,
        HttpFetcher(
            allowed_networks=LOOPBACK_NETWORKS, max_connections=32, resolver=resolver
        ) as fetcher,
    ):
        for n in range(6):
            assert fetcher.fetch(f"{server.url}/{n}.png") == PNG
    assert resolver.asked == ["127.0.0.1"]


def test_a_closed_fetcher_refuses_politely() -> None:
    fetcher = HttpFetcher(allowed_networks=LOOPBACK_NETWORKS)
    fetcher.close()
    with pytest.raises(FetchError, match="closed"):
        fetcher.fetch("http://127.0.0.1:9/a.png")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_bytes": 0},
        {"max_connections": 0},
        {"max_redirects": -1},
        {"timeout": 0},
        {"deadline": -1.0},
        {"allowed_networks": ["10.0.0.0/33"]},
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        HttpFetcher(**kwargs)  # type: ignore[arg-type]
