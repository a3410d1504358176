"""Return before deletion (返却, issue 24.5), accounts' part: sign a whole-tenant export's manifest
with the deletion certificate key, record the export (an operator action, in the tenant's audit log),
keep its archive for the tenant's administrators until the data is deleted.

ops.tenant_export collects every service's share (shared.tenant_export) and sends the manifest
here; accounts owns the certificate key and the contract-end schedule, so the signature and the
record are made here. The archive lives under `<ROUMU_VAR_DIR>/tenant-exports/<tenant id>/` and is
removed at the purge step with the rest of the tenant's data (service.run_contract_jobs)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.accounts import certificate, events
from services.accounts.models import ContractTermination, Tenant, TenantExport
from shared.errors import ProblemError, not_found
from shared.events import Actor
from shared.outbox import Messaging

PURGE_STARTED = ("purging", "purged", "accounts_deleted")
MAX_ARCHIVE_BYTES = 50 * 1024 ** 3


def exports_dir(var_dir: Path, tenant_id: str) -> Path:
    return var_dir / "tenant-exports" / tenant_id


def archive_path(var_dir: Path, tenant_id: str, export_id: str) -> Path:
    return exports_dir(var_dir, tenant_id) / f"{export_id}.tar"


def remove_archives(var_dir: Path, tenant_id: str) -> None:
    shutil.rmtree(exports_dir(var_dir, tenant_id), ignore_errors=True)


def exportable(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found()
    term = session.get(ContractTermination, tenant_id)
    if tenant.status == "purged" or (term is not None and term.status in PURGE_STARTED):
        raise ProblemError(409, "data-deleted", "データ削除が始まったテナントは返却データを作成できません",
                           "返却データの作成は削除予定日より前に行ってください")
    return tenant


def sign(session: Session, messaging: Messaging, keys_dir: Path, tenant_id: str, manifest: dict[str, Any],
         actor: Actor, now: datetime) -> TenantExport:
    tenant = exportable(session, tenant_id)
    mn = manifest.get("my_numbers") or {}
    files = manifest.get("files")
    if not isinstance(files, list) or not isinstance(mn, dict):
        raise ProblemError(422, "validation", "入力内容に誤りがあります", "manifest に files がありません")
    export_id = str(uuid.uuid4())
    doc = {**manifest, "type": "roumu.tenant_export", "version": 1, "export_id": export_id,
           "tenant": {"id": tenant.id, "code": tenant.code, "name": tenant.name},
           "operator": actor.id, "signed_at": now.isoformat(), "issuer": "Roumu accounts"}
    text, sig, kid = certificate.sign(doc, keys_dir)
    row = TenantExport(id=export_id, tenant_id=tenant_id, operator=actor.id, created_at=now,
                       my_numbers_included=bool(mn.get("included")),
                       recipient_fingerprint=mn.get("recipient_fingerprint") if mn.get("included") else None,
                       manifest=text, signature=sig, key_id=kid)
    session.add(row)
    rows = sum(int(e.get("rows", 0)) for e in files if isinstance(e, dict) and e.get("rows") is not None)
    messaging.record(session, events.tenant_exported(row, actor, rows, len(files),
                                                     hashlib.sha256(text.encode()).hexdigest()))
    return row


def find(session: Session, tenant_id: str, export_id: str) -> TenantExport:
    row = session.get(TenantExport, export_id)
    if row is None or row.tenant_id != tenant_id:
        raise not_found()
    return row


def listing(session: Session, tenant_id: str) -> list[TenantExport]:
    return list(session.execute(select(TenantExport).where(TenantExport.tenant_id == tenant_id)
                                .order_by(TenantExport.created_at)).scalars())


def _manifest_of(tar_path: Path) -> bytes | None:
    try:
        with tarfile.open(tar_path, mode="r:") as tar:
            for m in tar:
                if m.name.lstrip("./").split("/", 1)[-1] == "manifest.json" and m.isfile():
                    f = tar.extractfile(m)
                    return f.read() if f else None
    except (tarfile.TarError, OSError):
        return None
    return None


async def receive_archive(chunks: AsyncIterator[bytes], var_dir: Path, row: TenantExport) -> tuple[str, int]:
    """Store the uploaded tar beside the others (written to a temporary name, renamed when it is
    whole and its manifest.json is the signed text, byte for byte)."""
    target = archive_path(var_dir, row.tenant_id, row.id)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_suffix(".part")
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_ARCHIVE_BYTES:
                    raise ProblemError(413, "payload-too-large", "返却データが大きすぎます")
                digest.update(chunk)
                out.write(chunk)
        if _manifest_of(tmp) != row.manifest.encode():
            raise ProblemError(422, "manifest-mismatch", "返却データの manifest.json が署名済みのものと一致しません")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), size
