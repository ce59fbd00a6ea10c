"""Where the fetcher may connect: public addresses only, unless told otherwise.

Image URLs come from search results, that is from strangers. Without a guard,
a URL (or a redirect) naming ``127.0.0.1``, ``10.0.0.5`` or
``169.254.169.254`` would make this process fetch from its own network:
server-side request forgery. :class:`AddressPolicy` refuses

- schemes other than ``http``/``https`` and URLs carrying credentials;
- cloud metadata endpoints, by name and by address, always;
- any host with *one* resolved address that is loopback, private,
  link-local, multicast, unspecified, reserved, shared (``100.64.0.0/10``)
  or otherwise not globally routable, including those addresses wrapped in
  IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64
  ``64:ff9b::/96``);

except addresses inside ``allowed_networks``, which the caller names on purpose.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence

import httpx
import idna

from img2img.errors import BlockedURLError, ConfigurationError, FetchError

__all__ = [
    "LOOPBACK_NETWORKS",
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "AddressPolicy",
    "Resolver",
    "host_name_problem",
    "refusal_reason",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: ``(host, port) -> IP address strings``; the fetcher connects only to what this returns.
Resolver = Callable[[str, int], Sequence[str]]

#: What tests and local tools pass as ``allowed_networks`` to reach a server on this machine.
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")

#: Instance-metadata services hand out cloud credentials: never fetched, even if allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer: a public address with private answers
    )
)
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 scope id
        if address not in addresses:
            addresses.append(address)
    return addresses


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries, which is where packets go."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_metadata(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)):
        return embedded in METADATA_ADDRESSES
    return ip in METADATA_ADDRESSES


def refusal_reason(ip: IPAddress) -> str | None:
    """Why the fetcher must not connect to ``ip`` by default, or ``None`` if it may."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = refusal_reason(embedded)
            return None if reason is None else f"{reason} (embedded in {ip})"
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (ip in _SHARED, "a shared (carrier-grade NAT) address"),
        (not ip.is_global, "not a public address"),
    )
    return next((reason for refused, reason in checks if refused), None)


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")


def host_name_problem(host: str) -> str | None:
    """Why ``host`` (ASCII, lower case, as sent on the wire) is not a usable DNS name, or ``None``.

    Internationalised names arrive in their ``xn--`` form; a label that does
    not decode as IDNA is refused here rather than sent to a resolver.
    """
    if len(host) > 253:
        return f"the host name is {len(host)} characters long, over 253"
    for label in host.split("."):
        if not label or len(label) > 63 or not _LABEL.fullmatch(label):
            return f"{host!r} is not a valid host name"
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError) as exc:
                return f"{host!r} is not a valid internationalised host name: {exc}"
    return None


def _parse_networks(networks: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError as exc:
        raise ConfigurationError(f"bad network in allowed_networks: {exc}") from exc


class AddressPolicy:
    """Decides which URLs and addresses the fetcher may reach.

    Args:
        allowed_networks: networks reachable even though private or loopback,
            e.g. :data:`LOOPBACK_NETWORKS` for tests, or an intranet range.
            Cloud metadata addresses stay refused.
        resolver: turns a host name into addresses; the default asks the system.
    """

    def __init__(
        self,
        *,
        allowed_networks: Iterable[str | IPNetwork] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allowed_networks = _parse_networks(allowed_networks)
        self._resolver = resolver

    def _allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)):
            candidates.append(embedded)
        return any(c in net for c in candidates for net in self.allowed_networks)

    def _verdict(self, address: str, host: str | None = None) -> str | None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        reason = refusal_reason(ip)
        if reason is None or (not _is_metadata(ip) and self._allowed(ip)):
            return None
        named = f"{host} resolves to {ip}" if host and host != address else str(ip)
        return f"{named} is {reason}"

    def check_address(self, address: str, *, host: str | None = None) -> None:
        """Raise :class:`BlockedURLError` if the fetcher may not connect to ``address``."""
        verdict = self._verdict(address, host)
        if verdict is not None:
            raise BlockedURLError(f"refused to connect: {verdict}")

    def check_url(self, url: str) -> httpx.URL:
        """Refuse a URL by its form alone: syntax, scheme, credentials, port, metadata names,
        IP literals.

        Host names are not resolved here: :meth:`resolve` does that right
        before connecting, so the checked addresses are the ones used. Raises
        only :class:`FetchError` (or :class:`BlockedURLError`), whatever the text.
        """
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii").rstrip(".").lower()
            port = parsed.port
        except (httpx.InvalidURL, TypeError, ValueError) as exc:  # UnicodeError is a ValueError
            raise FetchError(f"invalid URL {url!r}: {exc}", url=url) from exc
        if parsed.scheme not in ("http", "https"):
            raise BlockedURLError(f"refused {url!r}: only http and https URLs are fetched", url=url)
        if parsed.userinfo:
            raise BlockedURLError(
                f"refused {url!r}: URLs with credentials are not fetched", url=url
            )
        if not host:
            raise FetchError(f"invalid URL {url!r}: no host", url=url)
        if port is not None and not 0 < port < 65536:
            raise FetchError(f"invalid URL {url!r}: port {port} is out of range", url=url)
        if host in METADATA_HOSTNAMES:
            raise BlockedURLError(f"refused {url!r}: {host} is a cloud metadata host", url=url)
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            problem = host_name_problem(host)
            if problem is not None:
                raise FetchError(f"invalid URL {url!r}: {problem}", url=url) from None
            return parsed  # a name: checked when resolved
        verdict = self._verdict(host)
        if verdict is not None:
            raise BlockedURLError(f"refused {url!r}: {verdict}", url=url)
        return parsed

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and check every address; refuse if any one is refused.

        One bad address is enough: a name resolving to both a public and a
        private address would otherwise let the connection land on either.
        """
        name = host.rstrip(".").lower()
        if name in METADATA_HOSTNAMES:
            raise BlockedURLError(f"refused to connect: {name} is a cloud metadata host")
        try:
            addresses = list(self._resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise FetchError(f"cannot resolve {host}: no addresses")
        for address in addresses:
            try:
                self.check_address(address, host=host)
            except ValueError as exc:
                raise FetchError(f"resolver gave {address!r} for {host}, not an address") from exc
        return addresses
