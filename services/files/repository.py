"""Queries of the files service. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.files.models import StoredFile


def file_in_tenant(session: Session, tenant_id: str, file_id: str) -> StoredFile | None:
    return session.execute(
        select(StoredFile).where(StoredFile.tenant_id == tenant_id, StoredFile.id == file_id)
    ).scalar_one_or_none()


def list_files(session: Session, tenant_id: str, jigyosho_ids: frozenset[str] | None, *,
               jigyosho_id: str | None = None, procedure_id: str | None = None, filing_id: str | None = None,
               include_deleted: bool = False, limit: int = 100, after: str | None = None) -> Sequence[StoredFile]:
    q = select(StoredFile).where(StoredFile.tenant_id == tenant_id)
    if jigyosho_ids is not None:
        q = q.where(StoredFile.jigyosho_id.in_(sorted(jigyosho_ids)))
    if jigyosho_id is not None:
        q = q.where(StoredFile.jigyosho_id == jigyosho_id)
    if procedure_id is not None:
        q = q.where(StoredFile.procedure_id == procedure_id)
    if filing_id is not None:
        q = q.where(StoredFile.filing_id == filing_id)
    if not include_deleted:
        q = q.where(StoredFile.status.not_in(("deleted", "infected")))
    if after is not None:
        q = q.where(StoredFile.id > after)
    return session.execute(q.order_by(StoredFile.id).limit(limit)).scalars().all()


def past_retention(session: Session, now: datetime, limit: int) -> Sequence[StoredFile]:
    return session.execute(
        select(StoredFile).where(StoredFile.status.in_(("available", "quarantined")),
                                 StoredFile.retention_until.is_not(None), StoredFile.retention_until <= now)
        .order_by(StoredFile.retention_until).limit(limit)
    ).scalars().all()


def quarantined(session: Session, limit: int) -> Sequence[StoredFile]:
    return session.execute(
        select(StoredFile).where(StoredFile.status == "quarantined").order_by(StoredFile.created_at).limit(limit)
    ).scalars().all()
