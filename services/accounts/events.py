"""Events the accounts service publishes (schemas in contracts/events/)."""

from __future__ import annotations

from services.accounts.models import Tenant, User
from shared.events import Actor, EventEnvelope

TENANT_CREATED = "roumu.accounts.tenant.created"
USER_CREATED = "roumu.accounts.user.created"


def tenant_created(t: Tenant, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=TENANT_CREATED, tenant_id=t.id, actor=actor, subject={"tenant_id": t.id},
        data={"code": t.code, "kind": t.kind, "status": t.status,
              "contract_start": t.contract_start.isoformat(),
              "contract_end": t.contract_end.isoformat() if t.contract_end else None},
    )


def user_created(u: User, tenant_code: str, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=USER_CREATED, tenant_id=u.tenant_id, actor=actor,
        subject={"user_id": u.id, "tenant_id": u.tenant_id},
        data={"login_id": u.login_id, "tenant_code": tenant_code, "roles": u.roles, "status": u.status},
    )
