"""The tenant's IP allowlist, checked by auth itself as a second line behind the gateway (the
gateway may miss the tenant, e.g. a login body it did not buffer)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse(text: str | None) -> Address | None:
    """An address as the gateway forwards it; IPv4-mapped IPv6 counts as the IPv4 address."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1:text.find("]")]
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def allows(cidrs: Sequence[str], client_ip: str | None) -> bool:
    """An empty list allows everyone; otherwise the address must be inside one of the networks
    (an unknown or unreadable address is outside). Unreadable entries are ignored, as the gateway
    does."""
    if not cidrs:
        return True
    ip = parse(client_ip)
    if ip is None:
        return False
    for cidr in cidrs:
        try:
            if ip in ipaddress.ip_network(str(cidr).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False
