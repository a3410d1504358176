"""Where a webhook may be sent: only to addresses on the public internet.

A webhook URL is chosen by a tenant admin or a partner, and the service POSTs to it from inside our
network: pointed at 127.0.0.1, a private range or a cloud metadata address it would be a port scanner
and a request forger against our own services (SSRF). So every address a URL's host resolves to must
be globally routable and not multicast; IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo,
NAT64) are judged by the IPv4 address inside. `allowed` lists networks let through anyway, for a
developer's local receiver (ROUMU_WEBHOOKS_ALLOWED_NETWORKS); empty by default.

Pure: resolution is passed in, so the rule is tested without DNS."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedDestination(Exception):
    """The URL's host is, or resolves to, an address a webhook may not reach."""


class UnresolvedDestination(Exception):
    """The URL's host does not resolve (now)."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: Address) -> bool:
    """Globally routable unicast, judged on the IPv4 address an IPv6 one carries, if any."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return is_public(inner)
    return ip.is_global and not ip.is_multicast


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def permitted(ip: Address, allowed: Sequence[Network]) -> bool:
    return is_public(ip) or any(ip.version == n.version and ip in n for n in allowed)


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedDestination(host) from exc
    return [str(info[4][0]) for info in infos]


def resolve(host: str, port: int, allowed: Sequence[Network], resolver: Resolver = system_resolver) -> Address:
    """The address to connect to: every address the host resolves to must be permitted (a name that
    also resolves to 127.0.0.1 is refused whole, so no round-robin luck gets through), and the first
    is pinned for the connection, so a second lookup (DNS rebinding) cannot switch it."""
    try:
        literal: Address | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    addresses = [literal] if literal is not None else [
        ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
    if not addresses:
        raise UnresolvedDestination(host)
    for ip in addresses:
        if not permitted(ip, allowed):
            raise RefusedDestination(host)
    return addresses[0]
