"""Headers across the hop: what is dropped, what the gateway adds, and who the client is."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Header = tuple[bytes, bytes]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 9110 §7.6.1 connection-specific fields, plus the old ones still seen in the wild.
HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection",
    b"te", b"trailer", b"transfer-encoding", b"upgrade",
})
# Set by the gateway itself; a client's copy is never passed on. `expect` is answered per hop by the
# ASGI server; `host` becomes the upstream's; `content-length` is set again for the body actually sent;
# X-Roumu-* are ours to set, so any from outside is a spoof.
_REPLACED = frozenset({
    b"host", b"expect", b"content-length", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto",
    b"x-forwarded-host", b"forwarded", b"x-real-ip",
})
INTERNAL_PREFIX = b"x-roumu-"
CLIENT_IP = b"x-roumu-client-ip"
# The gateway's own server writes Date and Server; passing the upstream's on would send them twice.
_RESPONSE_DROPPED = frozenset({b"date", b"server"})


def _connection_tokens(headers: Iterable[Header]) -> set[bytes]:
    """Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1)."""
    out: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            out.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return out


def _parse_ip(text: str) -> IPAddress | None:
    text = text.strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    # Some proxies append a port: "203.0.113.7:4711" or "[2001:db8::1]:4711".
    host = text[1:text.find("]")] if text.startswith("[") else text.rpartition(":")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, cidrs: Sequence[str]) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def trusts(self, addr: IPAddress) -> bool:
        return any(addr in net for net in self.networks)

    def client_address(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The first address, from the right, that is not a trusted proxy.

        Only a trusted peer's X-Forwarded-For is read at all; entries to the left of the first
        untrusted one were written by whoever that is, so they are not believed."""
        peer_ip = _parse_ip(peer)
        if peer_ip is None or not self.trusts(peer_ip):
            return peer
        client = str(peer_ip)
        for entry in reversed(forwarded_for):
            ip = _parse_ip(entry)
            if ip is None:
                break  # garbage: the last hop we could verify reported it, so that hop is the answer
            client = str(ip)
            if not self.trusts(ip):
                break
        return client


def client_ip(scope_headers: Sequence[Header], peer: str | None, proxies: TrustedProxies) -> str | None:
    """The client's address as the gateway believes it (see TrustedProxies.client_address)."""
    if not peer:
        return None
    if not proxies.networks:
        return peer
    forwarded_for: list[str] = []
    for name, value in scope_headers:
        if name == b"x-forwarded-for":
            forwarded_for += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    return proxies.client_address(peer, forwarded_for)


def parse_ip(text: str | None) -> IPAddress | None:
    return _parse_ip(text) if text else None


@dataclass(frozen=True)
class Downstream:
    """What the gateway knows about the connection the request came in on."""

    peer: str | None
    scheme: str


def upstream_headers(
    headers: Sequence[Header], down: Downstream, proxies: TrustedProxies, request_id: str
) -> list[Header]:
    """The request headers a service receives."""
    drop = HOP_BY_HOP | _connection_tokens(headers)
    out: list[Header] = []
    forwarded_for: list[str] = []
    proto: bytes | None = None
    fwd_host: bytes | None = None
    host: bytes | None = None
    for name, value in headers:
        name = name.lower()
        if name == b"x-forwarded-for":
            forwarded_for += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
        elif name == b"x-forwarded-proto" and proto is None:
            proto = value.split(b",")[0].strip().lower()
        elif name == b"x-forwarded-host" and fwd_host is None:
            fwd_host = value.split(b",")[0].strip()
        elif name == b"host":
            host = value
        if name in drop or name in _REPLACED or name.startswith(INTERNAL_PREFIX):
            continue
        out.append((name, value))

    peer_ip = _parse_ip(down.peer) if down.peer else None
    trusted = peer_ip is not None and proxies.trusts(peer_ip)
    if not trusted:
        forwarded_for, proto, fwd_host = [], None, None
    if down.peer:
        client = proxies.client_address(down.peer, forwarded_for)
        out.append((b"x-forwarded-for", ", ".join([*forwarded_for, down.peer]).encode("latin-1")))
        out.append((CLIENT_IP, client.encode("latin-1")))
    out.append((b"x-forwarded-proto", proto if proto in (b"http", b"https") else down.scheme.encode()))
    if fwd_host or host:
        out.append((b"x-forwarded-host", fwd_host or host or b""))
    out.append((b"x-request-id", request_id.encode("ascii")))
    return out


def downstream_headers(headers: Iterable[Header]) -> list[Header]:
    """The response headers the client receives from a service's response."""
    headers = list(headers)
    drop = HOP_BY_HOP | _RESPONSE_DROPPED | _connection_tokens(headers)
    return [(n, v) for n, v in headers if n.lower() not in drop]


def header_bytes(headers: Iterable[Header]) -> int:
    return sum(len(n) + len(v) for n, v in headers)
