"""Events the files service publishes (schemas in contracts/events/).

The file name is left out: names like 「山田太郎_住民票.pdf」 say who a document is about."""

from __future__ import annotations

from typing import Any

from services.files.models import StoredFile
from shared.events import Actor, EventEnvelope

FILE_REGISTERED = "roumu.files.file.registered"
FILE_UPLOADED = "roumu.files.file.uploaded"
FILE_SCANNED = "roumu.files.file.scanned"
FILE_INFECTED = "roumu.files.file.infected"
FILE_DOWNLOADED = "roumu.files.file.downloaded"
FILE_DELETED = "roumu.files.file.deleted"


def _event(type_: str, f: StoredFile, actor: Actor, data: dict[str, Any]) -> EventEnvelope:
    return EventEnvelope(type=type_, tenant_id=f.tenant_id, actor=actor,
                         subject={"file_id": f.id, "tenant_id": f.tenant_id}, data=data)


def file_registered(f: StoredFile, actor: Actor) -> EventEnvelope:
    return _event(FILE_REGISTERED, f, actor,
                  {"content_type": f.content_type, "size_bytes": f.size_bytes, "sha256": f.sha256, "status": f.status})


def _owner(f: StoredFile) -> dict[str, Any]:
    return {"jigyosho_id": f.jigyosho_id, "procedure_id": f.procedure_id, "filing_id": f.filing_id}


def file_uploaded(f: StoredFile, actor: Actor) -> EventEnvelope:
    return _event(FILE_UPLOADED, f, actor, {
        "content_type": f.content_type, "size_bytes": f.size_bytes, "sha256": f.sha256, "status": f.status,
        "scan_status": f.scan_status, **_owner(f),
        "retention_until": f.retention_until.isoformat() if f.retention_until else None})


def file_scanned(f: StoredFile, actor: Actor, scanner: str) -> EventEnvelope:
    return _event(FILE_SCANNED, f, actor, {"result": f.scan_status, "scanner": scanner,
                                           "signature": f.scan_signature, "status": f.status})


def file_infected(f: StoredFile, actor: Actor, scanner: str) -> EventEnvelope:
    return _event(FILE_INFECTED, f, actor, {
        "signature": f.scan_signature or "", "scanner": scanner, "content_type": f.content_type,
        "size_bytes": f.size_bytes, "sha256": f.sha256, **_owner(f)})


def file_downloaded(f: StoredFile, actor: Actor, via: str) -> EventEnvelope:
    return _event(FILE_DOWNLOADED, f, actor, {"via": via, "size_bytes": f.size_bytes, **_owner(f)})


def file_deleted(f: StoredFile, actor: Actor, reason: str) -> EventEnvelope:
    return _event(FILE_DELETED, f, actor, {"reason": reason, "size_bytes": f.size_bytes, **_owner(f)})
