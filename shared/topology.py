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
    ServiceInfo("shakai_hoken", "shakai-hoken", 8110),
    # The e-Gov sandbox stands in for an outside system: never routed by the gateway.
    ServiceInfo("egov_sandbox", "", 8108),
)

GATEWAY_PORT = 8000

# Who consumes what: each service's durable consumers as (durable, subject filter); the durable's
# full name on the stream is "<service>-<durable>". The NATS server config (shared/nats_auth.py)
# lets a service create and read exactly these, so a consumer missing here is refused by the
# server; create_service_app checks a service's subscriptions against this list at start-up.
ACCOUNTS_FEED = ("accounts-feed", "roumu.accounts.>")
CONSUMES: dict[str, tuple[tuple[str, str], ...]] = {
    "auth": (("accounts", "roumu.accounts.>"),),
    "accounts": (("tenant-purged", "roumu.*.tenant.purged"), ("notice-mail", "roumu.accounts.notice.published"),
                 ("efiling-mail", "roumu.efiling.filing.>"), ACCOUNTS_FEED),
    "koyo_hoken": (("efiling-status", "roumu.efiling.>"), ACCOUNTS_FEED),
    "jimukumiai": (("koyo-hoken-procedures", "roumu.koyo_hoken.procedure.>"),
                   ("efiling-filings", "roumu.efiling.filing.>"), ACCOUNTS_FEED),
    "efiling": (ACCOUNTS_FEED,),
    "audit_log": (("all", "roumu.>"),),
    "files": (("procedure-refs", "roumu.koyo_hoken.procedure.created"), ("filing-refs", "roumu.efiling.filing.drafted"),
              ACCOUNTS_FEED),
    "webhooks": (("koyo-hoken-events", "roumu.koyo_hoken.>"), ("efiling-events", "roumu.efiling.>"),
                 ACCOUNTS_FEED),
    "shakai_hoken": (("koyo-hoken-persons", "roumu.koyo_hoken.insured_person.>"), ACCOUNTS_FEED),
    "egov_sandbox": (ACCOUNTS_FEED,),
}

# Under replicas (docs/operations.md, "Scaling") a consumer is one of two kinds:
#
# * work — every durable in CONSUMES. The replicas of a service share it: one durable pull consumer
#   ("<service>-<durable>") from which JetStream hands each message to one replica, which writes the
#   effect and the inbox row in one transaction in the service's database (shared/consumer.py). Every
#   replica sees the effect; a redelivery (a replica stopped before its ack) is skipped by the inbox.
#   The permission and 事業所 read models are tables (shared/permissions.py,
#   shared/jigyosho_directory.py), so they are work consumers too: one replica applies, all read.
# * read-model — a view in each process's memory, fed by a consumer of that process alone that acks
#   nothing and goes with the process; a restarted replica builds its view again from the stream.
#   Listed here (feed → subject, who keeps it and how):
PER_PROCESS_FEEDS: dict[str, tuple[str, str]] = {
    "revocations": ("roumu.auth.session.revoked",
                    "every service: revoked session ids (shared/revocation.py), an ephemeral JetStream "
                    "consumer replaying the last ACCESS_TOKEN_MAX_TTL_S"),
    "tenant-settings": ("roumu.accounts.tenant.settings_changed",
                        "gateway: drops a tenant's cached settings (gateway/tenants.py), a core NATS subscription"),
}

BY_NAME: dict[str, ServiceInfo] = {s.name: s for s in SERVICES}
ROUTED: dict[str, ServiceInfo] = {s.route: s for s in SERVICES if s.route}


def api_prefix(name: str) -> str:
    """The path prefix a service serves its API under, the same at the gateway and the service."""
    return f"/api/v1/{BY_NAME[name].route}"
