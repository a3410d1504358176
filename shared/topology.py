"""Names, URL prefixes and default ports of the services: the one place the layout is listed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # python package under services/, database name, subject segment
    route: str  # path segment under /api/v1/ at the gateway ("" = not routed)
    port: int  # default local port


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("auth", "auth", 8101),
    ServiceInfo("accounts", "accounts", 8102),
    ServiceInfo("koyo_hoken", "koyo-hoken", 8103),
    ServiceInfo("jimukumiai", "jimukumiai", 8104),
    ServiceInfo("efiling", "efiling", 8105),
    ServiceInfo("audit_log", "audit-log", 8106),
    ServiceInfo("files", "files", 8107),
    ServiceInfo("webhooks", "webhooks", 8109),
    # The e-Gov sandbox stands in for an outside system: never routed by the gateway.
    ServiceInfo("egov_sandbox", "", 8108),
)

GATEWAY_PORT = 8000

BY_NAME: dict[str, ServiceInfo] = {s.name: s for s in SERVICES}
ROUTED: dict[str, ServiceInfo] = {s.route: s for s in SERVICES if s.route}


def api_prefix(name: str) -> str:
    """The path prefix a service serves its API under, the same at the gateway and the service."""
    return f"/api/v1/{BY_NAME[name].route}"
