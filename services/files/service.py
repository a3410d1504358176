"""Use cases of the files service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.files import events, keys, references, repository
from services.files.context import FilesContext
from services.files.models import StoredFile, TenantUsage, jigyosho_directory, messaging
from services.files.scanner import ScannerUnavailable
from services.files.schemas import FileMetadataCreate
from services.files.segments import unseal_stream
from services.files.storage import object_key, tenant_prefix
from services.files.upload import MultipartReceiver, SealedUpload, check_name, receive_raw, refused
from shared.db import Database
from shared.errors import ProblemError, not_found
from shared.events import SYSTEM, Actor, EventEnvelope
from shared.outbox import Messaging
from shared.purge import PURGE_REQUESTED

log = logging.getLogger("roumu.files")

# status values
REGISTERED, QUARANTINED, AVAILABLE, INFECTED, DELETED = "registered", "quarantined", "available", "infected", "deleted"


def register_metadata(session: Session, tenant_id: str, body: FileMetadataCreate, actor: Actor) -> StoredFile:
    stored = StoredFile(
        id=str(uuid.uuid4()), tenant_id=tenant_id, original_name=body.original_name,
        content_type=body.content_type, size_bytes=body.size_bytes, sha256=body.sha256,
        status=REGISTERED, created_at=datetime.now(UTC),
    )
    session.add(stored)
    session.flush()
    messaging.record(session, events.file_registered(stored, actor))
    return stored


# --- uploads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    jigyosho_id: str
    procedure_id: str | None = None
    filing_id: str | None = None
    retention_until: datetime | None = None


def quota_exceeded(detail: str) -> ProblemError:
    return refused(413, "quota-exceeded", "保存容量の上限に達しています", detail)


def _usage(session: Session, tenant_id: str, lock: bool = False) -> TenantUsage:
    q = select(TenantUsage).where(TenantUsage.tenant_id == tenant_id)
    if lock:
        q = q.with_for_update()
    row = session.execute(q).scalar_one_or_none()
    if row is None:
        # A tenant's first uploads may arrive together: the one that loses the insert (primary key)
        # reads the row the other made, instead of answering 500 (seen in the fault run).
        try:
            with session.begin_nested():
                session.add(TenantUsage(tenant_id=tenant_id, bytes_used=0, files_count=0))
        except IntegrityError:
            pass
        row = session.execute(q).scalar_one()
    return row


def check_quota(ctx: FilesContext, usage: TenantUsage, adding: int) -> None:
    s = ctx.settings
    if usage.files_count + 1 > s.quota_files:
        raise quota_exceeded(f"ファイル数の上限({s.quota_files:,}件)に達しています")
    if usage.bytes_used + adding > s.quota_bytes:
        raise quota_exceeded(f"保存容量の上限({s.quota_bytes:,}バイト)を超えます")


FILE_EXISTS = ProblemError(409, "file-exists", "このIDのファイルは既にあります",
                          "ファイルは変更できません。新しいIDでアップロードしてください")


def check_owner(db: Database, tenant_id: str, owner: Owner, trusted_refs: bool = False) -> None:
    """Before a byte is read: the file's 事業所 is one accounts published for this tenant and is not
    closed (shared.jigyosho_directory: 404 unknown, 409 closed), and a procedure or filing it names
    is one of that 事業所 (services/files/references.py; a service is trusted with its own)."""
    with db.sessions() as session:
        jigyosho_directory.require_open(session, tenant_id, owner.jigyosho_id)
        if not trusted_refs:
            references.require_attachable(session, tenant_id, owner.jigyosho_id, owner.procedure_id,
                                          owner.filing_id)


def precheck(db: Database, ctx: FilesContext, tenant_id: str, file_id: str, declared: int | None,
             reuse_check: bool) -> None:
    """Before a byte is read: the id is free in this tenant (PUT; ids are per tenant, so another
    tenant's file of the same id is neither found nor told), the quota has room for what is announced."""
    with db.sessions() as session:
        if reuse_check and repository.file_in_tenant(session, tenant_id, file_id) is not None:
            raise FILE_EXISTS
        usage = session.execute(select(TenantUsage).where(TenantUsage.tenant_id == tenant_id)).scalar_one_or_none()
        if usage is not None:
            body = min(declared or 0, ctx.settings.max_file_bytes)
            check_quota(ctx, usage, body)


def _scan(ctx: FilesContext, upload: SealedUpload) -> tuple[str, str | None]:
    """("clean" | "infected" | "pending" | "skipped", signature)."""
    if ctx.scanner is None:
        return "skipped", None
    try:
        with upload.reader() as r:
            result = ctx.scanner.scan(r.segments())
    except ScannerUnavailable as exc:
        log.warning("scanner unavailable, file kept in quarantine", extra={"error": str(exc)})
        return "pending", None
    return ("clean", None) if result.clean else ("infected", result.signature)


async def upload(db: Database, messaging_: Messaging, ctx: FilesContext, notify: Callable[[], None], *,
                 tenant_id: str, file_id: str, owner: Owner, actor: Actor,
                 chunks: AsyncIterator[bytes], raw_name: str | None, multipart_type: str | None,
                 declared: int | None, reuse_check: bool) -> StoredFile:
    """Receive, check, scan and store one file. Refusals raise ProblemError; an infected file is
    recorded (row + event, no bytes kept) before its refusal is raised."""
    max_bytes = ctx.settings.max_file_bytes
    await asyncio.to_thread(precheck, db, ctx, tenant_id, file_id, declared, reuse_check)
    aad = keys.content_aad(tenant_id, file_id)

    def open_upload(name: str, ext: str) -> SealedUpload:
        return SealedUpload(ctx.tmp_dir, name, ext, max_bytes, aad)

    sealed: SealedUpload | None = None
    receiver: MultipartReceiver | None = None
    try:
        if multipart_type is not None:
            receiver = MultipartReceiver(multipart_type, open_upload, max_bytes)
            sealed = await receiver.receive(chunks)
        else:
            name, ext = check_name(raw_name)
            sealed = open_upload(name, ext)
            await receive_raw(chunks, sealed)
        await asyncio.to_thread(sealed.verify_content, ctx.zip_limits)
        scan_status, signature = await asyncio.to_thread(_scan, ctx, sealed)
        stored = await asyncio.to_thread(_commit, db, messaging_, ctx, tenant_id, file_id, owner, actor, sealed,
                                         scan_status, signature)
        notify()
    finally:
        if sealed is None and receiver is not None:
            sealed = receiver.upload
        if sealed is not None:
            sealed.discard()
    if stored.status == INFECTED:
        raise refused(422, "file-infected", "ウイルスが検出されたため受け付けられません",
                      "このファイルは保存されていません。送信元に確認してください",
                      signature=stored.scan_signature, file_id=stored.id)
    return stored


def _commit(db: Database, messaging_: Messaging, ctx: FilesContext, tenant_id: str, file_id: str, owner: Owner,
            actor: Actor, sealed: SealedUpload, scan_status: str, signature: str | None) -> StoredFile:
    now = ctx.clock.now()
    scanner = ctx.scanner.name if ctx.scanner is not None else "none"
    f = StoredFile(id=file_id, tenant_id=tenant_id, original_name=sealed.name, content_type=sealed.content_type,
                   size_bytes=sealed.size, sha256=sealed.sha256, created_at=now, jigyosho_id=owner.jigyosho_id,
                   procedure_id=owner.procedure_id, filing_id=owner.filing_id, retention_until=owner.retention_until,
                   uploaded_by=actor.id[:64], scan_status=scan_status, scan_signature=signature,
                   scanned_at=now if scan_status in ("clean", "infected") else None)
    if scan_status == "infected":
        # Refused and recorded: the row says what came and what was found; the bytes are not kept.
        f.status = INFECTED
        with db.transaction() as session:
            session.add(f)
            _flush_new(session)
            messaging_.record(session, events.file_infected(f, actor, scanner))
            messaging_.record(session, events.file_scanned(f, actor, scanner))
        return f
    f.status = QUARANTINED if scan_status == "pending" else AVAILABLE
    key = object_key(tenant_id, file_id)
    stored_blob = False
    try:
        with db.transaction() as session:
            usage = _usage(session, tenant_id, lock=True)
            check_quota(ctx, usage, sealed.size)
            tkey = keys.tenant_key(session, ctx.data_keys, tenant_id, now)
            assert tkey is not None
            f.wrapped_key = keys.wrap_file_key(tkey, sealed.key, tenant_id, file_id)
            f.storage_key = key
            f.sealed_size = sealed.sealed_size
            session.add(f)
            _flush_new(session)
            usage.bytes_used += sealed.size
            usage.files_count += 1
            messaging_.record(session, events.file_uploaded(f, actor))
            if scan_status == "clean":
                messaging_.record(session, events.file_scanned(f, actor, scanner))
            ctx.store.put(key, sealed.path)
            stored_blob = True
    except Exception:
        if stored_blob:
            ctx.store.delete(key)
        raise
    return f


def _flush_new(session: Session) -> None:
    """The id was free at the precheck; a concurrent PUT of the same id in the same tenant that
    committed first makes this one a 409, not a 500."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise FILE_EXISTS from exc


# --- reading ---------------------------------------------------------------------------------


def file_key(session: Session, ctx: FilesContext, f: StoredFile) -> bytes:
    tkey = keys.tenant_key(session, ctx.data_keys, f.tenant_id, ctx.clock.now(), create=False)
    if tkey is None or f.wrapped_key is None:
        raise not_found()
    return keys.unwrap_file_key(tkey, f.wrapped_key, f.tenant_id, f.id)


def plaintext(ctx: FilesContext, f: StoredFile, key: bytes) -> Iterator[bytes]:
    assert f.storage_key is not None and f.sealed_size is not None
    return unseal_stream(ctx.store.chunks(f.storage_key), key, f.sealed_size, keys.content_aad(f.tenant_id, f.id))


def servable(f: StoredFile) -> None:
    """Only clean (or unscanned where no scanner is configured) files are served."""
    if f.status == QUARANTINED:
        raise ProblemError(409, "file-quarantined", "ウイルス検査が終わっていません",
                           "検査が終わるまでダウンロードできません")
    if f.status in (DELETED, INFECTED):
        raise ProblemError(410, "file-gone", "このファイルは削除されています")
    if f.status != AVAILABLE or f.storage_key is None:
        raise ProblemError(409, "file-no-content", "このファイルには内容がありません",
                           "メタデータだけが登録されています")


def record_download(session: Session, f: StoredFile, actor: Actor, via: str) -> None:
    messaging.record(session, events.file_downloaded(f, actor, via))


# --- deletion, retention, purge ---------------------------------------------------------------


def delete_file(session: Session, ctx: FilesContext, f: StoredFile, actor: Actor, reason: str) -> None:
    """Bytes and the wrapped key go; the row stays as the record of what was there."""
    # Locked and read again: of two concurrent deletes, the second sees `deleted` (no double count
    # in the usage, no stale-version 409).
    session.refresh(f, with_for_update=True)
    if f.status == DELETED:
        return
    if f.status in (AVAILABLE, QUARANTINED):
        usage = _usage(session, f.tenant_id, lock=True)
        usage.bytes_used = max(0, usage.bytes_used - f.size_bytes)
        usage.files_count = max(0, usage.files_count - 1)
    key = f.storage_key
    f.status = DELETED
    f.deleted_at = ctx.clock.now()
    f.deleted_reason = reason
    f.wrapped_key = None
    f.storage_key = None
    session.flush()
    messaging.record(session, events.file_deleted(f, actor, reason))
    if key is not None:
        _delete_after_commit(session, ctx, key)


def _delete_after_commit(session: Session, ctx: FilesContext, key: str) -> None:
    """The bytes go only once the row says `deleted` for everyone: a download that read the row
    before the commit still finds its object, and a rolled-back delete keeps it. If the process dies
    in between, the object stays unreadable (its wrapped key went with the commit: crypto-shredded)."""

    def remove(_: Session) -> None:
        try:
            ctx.store.delete(key)
        except Exception:
            log.exception("stored object of a deleted file could not be removed", extra={"storage_key": key})

    sqlalchemy_event.listen(session, "after_commit", remove, once=True)


def expire_retention(db: Database, ctx: FilesContext, limit: int = 200) -> int:
    """Delete files whose retention date has passed; answers how many."""
    now = ctx.clock.now()
    done = 0
    with db.transaction() as session:
        for f in repository.past_retention(session, now, limit):
            delete_file(session, ctx, f, SYSTEM, "retention")
            done += 1
    return done


def rescan_quarantined(db: Database, ctx: FilesContext, limit: int = 20) -> int:
    """Scan files kept in quarantine (the scanner was down at upload); answers how many got a verdict."""
    if ctx.scanner is None:
        return 0
    with db.sessions() as session:
        pending = [(f.id, f.tenant_id) for f in repository.quarantined(session, limit)]
    done = 0
    for file_id, tenant_id in pending:
        with db.sessions() as session:
            f = repository.file_in_tenant(session, tenant_id, file_id)
            if f is None or f.status != QUARANTINED:
                continue
            key = file_key(session, ctx, f)
        try:
            result = ctx.scanner.scan(plaintext(ctx, f, key))
        except ScannerUnavailable:
            return done
        with db.transaction() as session:
            f2 = repository.file_in_tenant(session, tenant_id, file_id)
            if f2 is None or f2.status != QUARANTINED:
                continue
            f2.scanned_at = ctx.clock.now()
            f2.scan_status = "clean" if result.clean else "infected"
            f2.scan_signature = result.signature
            if result.clean:
                f2.status = AVAILABLE
                session.flush()
                messaging.record(session, events.file_scanned(f2, SYSTEM, ctx.scanner.name))
            else:
                messaging.record(session, events.file_scanned(f2, SYSTEM, ctx.scanner.name))
                messaging.record(session, events.file_infected(f2, SYSTEM, ctx.scanner.name))
                usage = _usage(session, tenant_id, lock=True)
                usage.bytes_used = max(0, usage.bytes_used - f2.size_bytes)
                usage.files_count = max(0, usage.files_count - 1)
                blob = f2.storage_key
                f2.status = INFECTED
                f2.storage_key = None
                f2.wrapped_key = None
                session.flush()
                if blob:
                    ctx.store.delete(blob)
        done += 1
    return done


def purge_handler(feed: Callable[[Session, EventEnvelope], None] | None,
                  context: Callable[[], FilesContext | None]) -> Callable[[Session, EventEnvelope], None]:
    """The accounts feed (grants, the generic tenant purge of rows — tenant key included), plus
    the tenant's stored objects on roumu.accounts.tenant.purge_requested."""

    def handle(session: Session, event: EventEnvelope) -> None:
        if feed is not None:
            feed(session, event)
        ctx = context()
        if event.type == PURGE_REQUESTED and ctx is not None:
            removed = ctx.store.delete_prefix(tenant_prefix(event.subject["tenant_id"]))
            log.info("tenant objects purged", extra={"objects": removed})

    return handle


def usage_of(session: Session, tenant_id: str) -> dict[str, Any]:
    row = session.execute(select(TenantUsage).where(TenantUsage.tenant_id == tenant_id)).scalar_one_or_none()
    return {"bytes_used": row.bytes_used if row else 0, "files_count": row.files_count if row else 0}
