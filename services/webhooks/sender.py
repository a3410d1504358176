"""One POST of a delivery to a permitted, pinned address.

The host is resolved here, every address judged (rules/destinations.py), and the connection made to
the address judged, not to whatever a second lookup returns: the request goes to the IP, with the
original Host header and, for https, the original name for SNI and certificate checking (httpcore's
`sni_hostname` extension). So a name that resolved to a public address at registration and to
127.0.0.1 now (DNS rebinding) is refused, and never reached.

The outcome is a fixed failure class, never the text of an exception or a body: the delivery log is
shown to partners, and it must not describe what answered inside our network."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.webhooks.rules import destinations

# The classes a delivery log shows (docs/partner-api.md).
ADDRESS_REFUSED = "address_refused"
DNS_FAILED = "dns_failed"
TIMEOUT = "timeout"
CONNECTION_FAILED = "connection_failed"
TLS_FAILED = "tls_failed"
HTTP_STATUS = "http_status"  # the receiver answered, not 2xx: its status code is kept beside


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None


def _pinned_url(url: str, ip: destinations.Address) -> str:
    parts = urlsplit(url)
    host = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def post(http: httpx.Client, url: str, body: bytes, headers: dict[str, str], timeout: float,
         allowed: tuple[destinations.Network, ...],
         resolver: destinations.Resolver = destinations.system_resolver) -> Outcome:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ip = destinations.resolve(host, parts.port or (443 if parts.scheme == "https" else 80), allowed, resolver)
    except destinations.RefusedDestination:
        return Outcome(None, ADDRESS_REFUSED)
    except (destinations.UnresolvedDestination, ValueError):
        return Outcome(None, DNS_FAILED)
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    host_header = parts.netloc.rsplit("@", 1)[-1]
    try:
        r = http.post(_pinned_url(url, ip), content=body, headers={**headers, "Host": host_header},
                      timeout=timeout, follow_redirects=False, extensions=extensions)
    except httpx.TimeoutException:
        return Outcome(None, TIMEOUT)
    except httpx.ConnectError as exc:
        return Outcome(None, TLS_FAILED if "SSL" in repr(exc.__cause__ or exc) else CONNECTION_FAILED)
    except httpx.HTTPError:
        return Outcome(None, CONNECTION_FAILED)
    if 200 <= r.status_code < 300:
        return Outcome(r.status_code, None)
    return Outcome(r.status_code, HTTP_STATUS)
