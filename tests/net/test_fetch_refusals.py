"""HttpFetcher redirects and refusals (server-side request forgery), over real loopback servers.

No test here sends a packet beyond 127.0.0.0/8: refused hosts are refused
before any lookup, and the ``Tripwire`` resolver fails any other lookup.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fetch_helpers import (
    PNG,
    Tripwire,
    image_reply,
    redirecting,
)

from img2img.errors import BlockedURLError, FetchError
from img2img.net.fetch import HttpFetcher
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.testing.http import LoopbackServer, Reply
from stand_ins import Listener


@pytest.fixture
def internal() -> Iterator[Listener]:
    """An 'internal service' on 127.0.0.2, outside the 127.0.0.1/32 the fetcher may reach."""
    listener = Listener("127.0.0.2")
    yield listener
    listener.close()


# --- redirects -----------------------------------------------------------------------------


def test_follows_a_chain_of_redirects(fetcher: HttpFetcher) -> None:
    with redirecting({"/a": "/b", "/b": "/c", "/c": "/img.png"}) as server:
        assert fetcher.fetch(server.url + "/a") == PNG
    assert [r.path for r in server.requests] == ["/a", "/b", "/c", "/img.png"]


def test_relative_and_absolute_locations(fetcher: HttpFetcher) -> None:
    with (
        LoopbackServer(lambda r: image_reply()) as target,
        redirecting({"/dir/a": "b", "/dir/b": target.url + "/img.png"}) as server,
    ):
        assert fetcher.fetch(server.url + "/dir/a") == PNG
    assert [r.path for r in server.requests] == ["/dir/a", "/dir/b"]
    assert [r.path for r in target.requests] == ["/img.png"]


def test_too_many_redirects(fetcher: HttpFetcher) -> None:
    routes = {f"/{i}": f"/{i + 1}" for i in range(10)}
    with (
        redirecting(routes) as server,
        pytest.raises(FetchError, match="more than 3 redirects"),
    ):
        fetcher.fetch(server.url + "/0")
    assert len(server.requests) == fetcher.max_redirects + 1


def test_a_redirect_loop_ends(fetcher: HttpFetcher) -> None:
    with (
        redirecting({"/a": "/b", "/b": "/a"}) as server,
        pytest.raises(FetchError, match="redirects"),
    ):
        fetcher.fetch(server.url + "/a")


def test_a_redirect_without_location_is_an_error(fetcher: HttpFetcher) -> None:
    with (
        LoopbackServer(lambda r: Reply(status=301)) as server,
        pytest.raises(FetchError, match="without a Location"),
    ):
        fetcher.fetch(server.url + "/a")


# --- refusals (server-side request forgery) -------------------------------------------------


@pytest.mark.parametrize("path", ["/img.png", "/admin"])
def test_the_default_fetcher_refuses_loopback(path: str) -> None:
    with (
        LoopbackServer(lambda r: image_reply()) as server,
        HttpFetcher() as fetcher,
        pytest.raises(BlockedURLError, match="loopback") as info,
    ):
        fetcher.fetch(server.url + path)
    assert server.requests == []
    assert info.value.url == server.url + path


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "metadata"),
        ("http://[fd00:ec2::254]/latest/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://10.0.0.1/img.png", "private"),
        ("http://192.168.1.1/img.png", "private"),
        ("http://[::1]:8080/img.png", "loopback"),
        ("http://0.0.0.0:8080/img.png", "unspecified"),
        ("file:///etc/passwd", "only http"),
        ("http://user:pass@example.com/img.png", "credentials"),
    ],
)
def test_the_default_fetcher_refuses_internal_addresses(url: str, reason: str) -> None:
    resolver = Tripwire()
    with (
        HttpFetcher(resolver=resolver) as fetcher,
        pytest.raises(BlockedURLError, match=reason),
    ):
        fetcher.fetch(url)
    assert resolver.asked == []  # refused by form, before any lookup or connection


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting() -> None:
    resolver = Tripwire({"intranet.example": ["93.184.216.34", "10.1.2.3"]})
    with (
        HttpFetcher(resolver=resolver) as fetcher,
        pytest.raises(BlockedURLError, match=r"intranet\.example resolves to 10\.1\.2\.3"),
    ):
        fetcher.fetch("http://intranet.example/img.png")
    assert resolver.asked == ["intranet.example"]


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/img.png",
        "http://metadata.google.internal/",
        "http://[::ffff:169.254.169.254]/",
        "ftp://example.com/img.png",
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(target: str) -> None:
    resolver = Tripwire()
    with (
        redirecting({"/start": target}) as server,
        HttpFetcher(allowed_networks=["127.0.0.1/32"], resolver=resolver) as fetcher,
        pytest.raises(BlockedURLError, match="redirected from") as info,
    ):
        fetcher.fetch(server.url + "/start")
    assert [r.path for r in server.requests] == ["/start"]
    assert resolver.asked == ["127.0.0.1"]  # nothing else was even looked up
    assert info.value.url == server.url + "/start"


def test_a_redirect_to_a_loopback_service_is_refused_and_never_contacted(
    internal: Listener,
) -> None:
    # Only 127.0.0.1 is allowed; the "internal service" listens on 127.0.0.2.
    with (
        redirecting({"/start": internal.url + "/secret"}) as server,
        HttpFetcher(allowed_networks=["127.0.0.1/32"]) as fetcher,
        pytest.raises(BlockedURLError, match=r"127\.0\.0\.2 is a loopback address"),
    ):
        fetcher.fetch(server.url + "/start")
    assert not internal.was_contacted()


def test_the_internal_listener_does_notice_a_connection(internal: Listener) -> None:
    # The control for the test above: when 127.0.0.2 is allowed, it is contacted.
    with (
        redirecting({"/start": internal.url + "/secret"}) as server,
        HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, deadline=0.5) as fetcher,
        pytest.raises(FetchError),
    ):
        fetcher.fetch(server.url + "/start")
    assert internal.was_contacted()


def test_the_connection_goes_to_the_checked_address_only() -> None:
    # "images.test" exists only in this resolver: the request can reach the
    # server only through the address the policy checked, and the name is
    # looked up once, so a second, different answer (DNS rebinding) is never used.
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    with (
        LoopbackServer(lambda r: image_reply()) as server,
        HttpFetcher(allowed_networks=["127.0.0.1/32"], resolver=rebinding) as fetcher,
    ):
        assert fetcher.fetch(f"http://images.test:{server.port}/a.png") == PNG
    assert asked == ["images.test"]
    assert server.requests[0].headers["host"] == f"images.test:{server.port}"


def test_a_rebinding_answer_at_connect_time_is_refused() -> None:
    resolver = Tripwire({"flip.test": ["127.0.0.2"]})
    with (
        HttpFetcher(allowed_networks=["127.0.0.1/32"], resolver=resolver) as fetcher,
        pytest.raises(BlockedURLError, match=r"flip\.test resolves to 127\.0\.0\.2"),
    ):
        fetcher.fetch("http://flip.test/a.png")


def test_a_custom_transport_still_gets_every_hop_checked() -> None:
    resolver = Tripwire({"evil.test": ["10.9.9.9"]})
    with (
        redirecting({"/start": "http://evil.test/a.png"}) as server,
        HttpFetcher(
            allowed_networks=["127.0.0.1/32"], resolver=resolver, transport=httpx.HTTPTransport()
        ) as fetcher,
    ):
        with pytest.raises(BlockedURLError, match=r"10\.9\.9\.9 is a private address"):
            fetcher.fetch(server.url + "/start")
        assert resolver.asked == ["127.0.0.1", "evil.test"]
        assert fetcher.fetch(server.url + "/img.png") == PNG
