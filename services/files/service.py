"""Use cases of the files service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from services.files import events
from services.files.models import StoredFile, messaging
from services.files.schemas import FileMetadataCreate
from shared.events import Actor


def register_metadata(session: Session, tenant_id: str, body: FileMetadataCreate, actor: Actor) -> StoredFile:
    stored = StoredFile(
        id=str(uuid.uuid4()), tenant_id=tenant_id, original_name=body.original_name,
        content_type=body.content_type, size_bytes=body.size_bytes, sha256=body.sha256,
        status="registered", created_at=datetime.now(UTC),
    )
    session.add(stored)
    session.flush()
    messaging.record(session, events.file_registered(stored, actor))
    return stored
