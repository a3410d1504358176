"""Use cases of the accounts service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts import events, repository
from services.accounts.models import Tenant, User, messaging
from services.accounts.schemas import TenantCreate, UserCreate
from shared.errors import ProblemError
from shared.events import Actor

TENANT_CODE_TAKEN = ProblemError(409, "tenant-code-taken", "このテナントコードは既に使われています")
LOGIN_ID_TAKEN = ProblemError(409, "login-id-taken", "このログインIDは既に使われています")


def create_tenant(session: Session, body: TenantCreate, actor: Actor, tenant_id: str | None = None) -> Tenant:
    if repository.tenant_by_code(session, body.code):
        raise TENANT_CODE_TAKEN
    if body.contract_end and body.contract_end < body.contract_start:
        raise ProblemError(422, "validation", "入力内容に誤りがあります",
                           errors=[{"field": "contract_end", "message": "契約終了日は契約開始日以降にしてください",
                                    "code": "date_order"}])
    tenant = Tenant(
        id=tenant_id or str(uuid.uuid4()), code=body.code, name=body.name, kind=body.kind, status="active",
        contract_start=body.contract_start, contract_end=body.contract_end, created_at=datetime.now(UTC),
    )
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same code
        raise TENANT_CODE_TAKEN from exc
    messaging.record(session, events.tenant_created(tenant, actor))
    return tenant


def create_user(session: Session, tenant_id: str, body: UserCreate, actor: Actor,
                user_id: str | None = None) -> User:
    tenant = repository.tenant_by_id(session, tenant_id)
    if tenant is None:
        raise ProblemError(404, "not-found", "指定されたリソースが見つかりません")
    if repository.user_by_login(session, tenant_id, body.login_id):
        raise LOGIN_ID_TAKEN
    user = User(
        id=user_id or str(uuid.uuid4()), tenant_id=tenant_id, login_id=body.login_id,
        display_name=body.display_name, roles=sorted(set(body.roles)), status="active",
        created_at=datetime.now(UTC),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise LOGIN_ID_TAKEN from exc
    messaging.record(session, events.user_created(user, tenant.code, actor))
    return user
