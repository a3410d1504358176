"""Routes of the audit-log service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.audit_log import repository
from services.audit_log.schemas import EntryOut, EntryPage
from shared.auth_deps import require_menu
from shared.errors import problem_responses
from shared.permissions import OPERATION_LOGS, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("audit_log"), tags=["audit-log"])
Rt = Annotated[Runtime, Depends(runtime)]


@router.get("/entries", response_model=EntryPage, responses=problem_responses(401, 403, 422))
def list_entries(
    access: Annotated[Access, Depends(require_menu(OPERATION_LOGS, "read"))],
    rt: Rt,
    type: Annotated[str | None, Query(max_length=200, pattern=r"^[a-z_.]+$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EntryPage:
    """Operation and login log of the caller's tenant (the operation-log menu: administrators, or
    staff granted it), oldest first."""
    with rt.db.sessions() as session:
        rows = repository.entries(session, access.tenant_id, event_type=type, after=after, limit=limit)
        items = [EntryOut.model_validate(r) for r in rows]
    return EntryPage(items=items, next_after=items[-1].seq if len(items) == limit else None)
