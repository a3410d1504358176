"""Queries of the files service. Every query is scoped by tenant_id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.files.models import StoredFile


def file_in_tenant(session: Session, tenant_id: str, file_id: str) -> StoredFile | None:
    return session.execute(
        select(StoredFile).where(StoredFile.tenant_id == tenant_id, StoredFile.id == file_id)
    ).scalar_one_or_none()
