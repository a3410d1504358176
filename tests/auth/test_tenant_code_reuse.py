"""A tenant code reused after the old tenant is gone moves to the new tenant in auth."""

import uuid

from sqlalchemy import select

from services.auth import service
from services.auth.models import TenantRef
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope


def created(tenant_id: str, code: str) -> EventEnvelope:
    return EventEnvelope(type="roumu.accounts.tenant.created", tenant_id=tenant_id, actor=SYSTEM,
                         subject={"tenant_id": tenant_id},
                         data={"code": code, "kind": "sharoushi", "status": "active",
                               "contract_start": "2026-04-01", "contract_end": None})


def test_reused_code_moves_to_the_new_tenant(settings):
    db = Database(settings.database_url("auth"))
    code = f"re-{uuid.uuid4().hex[:8]}"
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        with db.transaction() as s:
            service.on_tenant_created(s, created(old, code))
        with db.transaction() as s:
            service.on_tenant_created(s, created(new, code))
            service.on_tenant_created(s, created(new, code))  # a redelivery changes nothing
        with db.sessions() as s:
            refs = s.execute(select(TenantRef.tenant_id).where(TenantRef.code == code)).scalars().all()
        assert refs == [new]
    finally:
        db.dispose()
