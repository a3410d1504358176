"""Events the files service publishes (schemas in contracts/events/).

The file name is left out: names like 「山田太郎_住民票.pdf」 say who a document is about."""

from __future__ import annotations

from services.files.models import StoredFile
from shared.events import Actor, EventEnvelope

FILE_REGISTERED = "roumu.files.file.registered"


def file_registered(f: StoredFile, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=FILE_REGISTERED, tenant_id=f.tenant_id, actor=actor,
        subject={"file_id": f.id, "tenant_id": f.tenant_id},
        data={"content_type": f.content_type, "size_bytes": f.size_bytes, "sha256": f.sha256, "status": f.status},
    )
