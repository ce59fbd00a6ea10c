"""The address policy: which URLs and addresses the fetcher refuses, by form and by resolution."""

from __future__ import annotations

import ipaddress

import pytest

from img2img.errors import BlockedURLError, ConfigurationError, FetchError
from img2img.net.guard import LOOPBACK_NETWORKS, AddressPolicy, refusal_reason, system_resolver
from stand_ins import TableResolver


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("168.63.129.16", "metadata"),
        ("100.64.0.1", "shared"),
        ("100.127.255.254", "shared"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff0e::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # documentation range
        ("198.18.0.1", "private"),  # benchmarking range
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("2002:a9fe:a9fe::1", "metadata"),  # 6to4 wrapping 169.254.169.254
        ("64:ff9b::a00:1", "private"),  # NAT64 wrapping 10.0.0.1
        ("64:ff9b::7f00:1", "loopback"),
        ("64:ff9b:1::1", "NAT64"),
        ("::127.0.0.1", "reserved"),  # deprecated IPv4-compatible form
        ("2001:db8::1", "private"),
    ],
)
def test_refused_addresses(address: str, reason: str) -> None:
    verdict = refusal_reason(ipaddress.ip_address(address))
    assert verdict is not None
    assert reason in verdict


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "100.63.255.255",
        "100.128.0.1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "error", "words"),
    [
        ("ftp://example.com/a.jpg", BlockedURLError, "only http"),
        ("file:///etc/passwd", BlockedURLError, "only http"),
        ("gopher://example.com/", BlockedURLError, "only http"),
        ("http://user:secret@example.com/a.jpg", BlockedURLError, "credentials"),
        ("http://127.0.0.1:8080/a.jpg", BlockedURLError, "loopback"),
        ("http://[::1]/a.jpg", BlockedURLError, "loopback"),
        ("http://[::ffff:7f00:1]/a.jpg", BlockedURLError, "loopback"),
        ("http://169.254.169.254/latest/meta-data/", BlockedURLError, "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", BlockedURLError, "metadata"),
        ("http://METADATA.google.internal./x", BlockedURLError, "metadata"),
        ("http://10.0.0.1/a.jpg", BlockedURLError, "private"),
        ("http:///a.jpg", FetchError, "URL"),
        ("http://[::1/", FetchError, "invalid URL"),
        ("http://ex\x00ample.com/", FetchError, "invalid URL"),
    ],
)
def test_check_url_refuses_by_form(url: str, error: type[Exception], words: str) -> None:
    resolver = TableResolver({})
    with pytest.raises(error, match=words) as info:
        AddressPolicy(resolver=resolver).check_url(url)
    assert getattr(info.value, "url", None) == url
    assert resolver.asked == []


def test_check_url_leaves_names_to_resolution() -> None:
    policy = AddressPolicy(resolver=TableResolver({}))
    assert policy.check_url("https://images.example.com/a.jpg").host == "images.example.com"


def test_resolve_refuses_if_any_address_is_refused() -> None:
    policy = AddressPolicy(
        resolver=TableResolver(
            {"mixed.test": ["93.184.216.34", "10.0.0.7"], "ok.test": ["93.184.216.34"]}
        )
    )
    assert policy.resolve("ok.test", 80) == ["93.184.216.34"]
    with pytest.raises(BlockedURLError, match=r"mixed\.test resolves to 10\.0\.0\.7"):
        policy.resolve("mixed.test", 80)


def test_resolve_failures_are_fetch_errors() -> None:
    policy = AddressPolicy(resolver=TableResolver({"empty.test": []}))
    with pytest.raises(FetchError, match=r"cannot resolve nowhere\.test"):
        policy.resolve("nowhere.test", 443)
    with pytest.raises(FetchError, match="no addresses"):
        policy.resolve("empty.test", 443)


def test_metadata_names_are_refused_without_resolving() -> None:
    resolver = TableResolver({"metadata.google.internal": ["93.184.216.34"]})
    with pytest.raises(BlockedURLError, match="metadata"):
        AddressPolicy(resolver=resolver).resolve("metadata.google.internal", 80)
    assert resolver.asked == []


def test_allowed_networks_open_exactly_those_networks() -> None:
    policy = AddressPolicy(allowed_networks=LOOPBACK_NETWORKS, resolver=TableResolver({}))
    policy.check_address("127.0.0.1")
    policy.check_address("::1")
    policy.check_address("::ffff:127.0.0.1")
    for refused in ("10.0.0.1", "192.168.0.1", "169.254.1.1", "0.0.0.0"):
        with pytest.raises(BlockedURLError):
            policy.check_address(refused)


def test_metadata_stays_refused_even_inside_an_allowed_network() -> None:
    policy = AddressPolicy(allowed_networks=["0.0.0.0/0", "::/0"], resolver=TableResolver({}))
    policy.check_address("10.0.0.1")
    policy.check_address("169.254.1.1")
    for metadata in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        with pytest.raises(BlockedURLError, match="metadata"):
            policy.check_address(metadata)


def test_bad_allowed_networks_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="allowed_networks"):
        AddressPolicy(allowed_networks=["not a network"])


def test_system_resolver_resolves_localhost_literals() -> None:
    # Numeric hosts resolve without any DNS server, including the odd forms
    # an attacker uses to dodge string checks.
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
    assert system_resolver("2130706433", 80) == ["127.0.0.1"]
    assert system_resolver("0x7f.1", 80) == ["127.0.0.1"]


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "017700000001"])
def test_odd_spellings_of_loopback_are_refused_once_resolved(host: str) -> None:
    policy = AddressPolicy()
    policy.check_url(f"http://{host}/a.png")  # not an IP literal to the URL parser...
    with pytest.raises(BlockedURLError, match="loopback"):
        policy.resolve(host, 80)  # ...but the socket would land on 127.0.0.1
