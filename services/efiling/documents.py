"""Where 公文書 bytes go. The files service has no upload API yet (a later issue), so efiling keeps
them in its own `document_blobs` table behind this small interface; switching to the files
service is a new DocumentStore, not a change to the tracking code."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session

from services.efiling.models import DocumentBlob


class DocumentStore(Protocol):
    def put(self, session: Session, tenant_id: str, data: bytes, media_type: str) -> str: ...

    def get(self, session: Session, tenant_id: str, blob_id: str) -> bytes | None: ...


class LocalBlobStore:
    """efiling's own table (temporary; see module docstring)."""

    def put(self, session: Session, tenant_id: str, data: bytes, media_type: str) -> str:
        blob = DocumentBlob(id=str(uuid.uuid4()), tenant_id=tenant_id, media_type=media_type, data=data,
                            sha256=hashlib.sha256(data).hexdigest(), created_at=datetime.now(UTC))
        session.add(blob)
        return blob.id

    def get(self, session: Session, tenant_id: str, blob_id: str) -> bytes | None:
        blob = session.get(DocumentBlob, blob_id)
        return blob.data if blob is not None and blob.tenant_id == tenant_id else None
