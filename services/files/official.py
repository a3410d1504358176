"""公文書 (official documents e-Gov issues) stored for the efiling service: an internal route.

`PUT /api/v1/files/internal/official-documents/{file_id}` — service tokens only (issuer `efiling`,
audience `files`, the tenant in `tid`); a user's or a partner's token is 403. The body is the
公文書 ZIP as e-Gov issued it (application/zip or application/octet-stream), its name in
`Content-Disposition`, the owner in the query (jigyosho_id, filing_id, procedure_id).

Why a route of its own: the user-upload rules (issue #10) allow ZIP members only with the upload
allowlist's extensions, and a 公文書 ZIP is XML + XSL (EGOV-XML.md §5), perhaps with PDF, Shift_JIS
CSV or one inner ZIP (二重ZIP). That allowlist stays exactly as it is for users; here the members
may be `OFFICIAL_MEMBERS`, each checked against its content (XML/XSL must be markup, PDF its magic,
CSV text), while everything else is the user upload's: the ZIP's own magic bytes while it streams,
the structural and bomb rules of rules/zipcheck.py (member count, total and ratio, overlap,
`..`/absolute paths, symlinks, encryption), the virus scan when configured, sealing with a fresh
file key under the tenant key, the quota, the `roumu.files.file.*` events (upload.py, service.py).

Idempotent: the file id is the caller's (efiling derives it from the 公文書's identity), and a PUT
of the same bytes under an id already stored answers that file (200) — a retry after a crash stores
nothing twice; other bytes under the same id are 409. The 事業所 is not checked against the
directory: a 公文書 for a filing made before a 事業所 closed must still be kept. Staff download the
file through the normal routes (`/files/{id}/content`, download links) with the files menu."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from typing import Annotated, Any, BinaryIO, Final

from fastapi import APIRouter, Depends, Header, Request, Response, status
from sqlalchemy.exc import IntegrityError

from services.files import keys, repository, service
from services.files.api import FileId, JigyoshoId, RefId, files_ctx
from services.files.context import FilesContext
from services.files.models import StoredFile
from services.files.rules import magic
from services.files.rules.extensions import extension_of
from services.files.rules.names import parse_content_disposition_name
from services.files.rules.zipcheck import ZipLimits, ZipRefused, inspect_zip
from services.files.schemas import FileOut
from services.files.upload import SealedUpload, bad_name, check_name, receive_raw, refused, zip_refused
from shared.auth_deps import CurrentPrincipal, actor_of
from shared.errors import ProblemError, problem_responses
from shared.service_app import Runtime, runtime
from shared.tokens import Principal
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("files"), tags=["files"])
Rt = Annotated[Runtime, Depends(runtime)]

# Services that may store 公文書.
CALLERS: Final = frozenset({"efiling"})
# Members of a 公文書 ZIP (EGOV-XML.md §5): the documents and their stylesheets, PDFs (unconfirmed but
# possible), Shift_JIS CSV data, and one level of inner ZIP (二重ZIP).
OFFICIAL_MEMBERS: Final = frozenset({"xml", "xsl", "pdf", "csv", "zip"})
_UTF8_BOM: Final = b"\xef\xbb\xbf"


def _service_caller(p: CurrentPrincipal) -> Principal:
    if p.kind != "service" or p.subject not in CALLERS or not p.tenant_id:
        raise ProblemError(403, "forbidden", "この操作を行う権限がありません", "サービス間の呼び出し専用です")
    return p


ServiceCaller = Annotated[Principal, Depends(_service_caller)]


def _member_content_ok(ext: str, head: bytes) -> bool:
    if ext in ("xml", "xsl"):
        # markup, in UTF-8 (a BOM is common in e-Gov's XSLs) or Shift_JIS: both start in ASCII
        return head.removeprefix(_UTF8_BOM).lstrip(b" \t\r\n").startswith(b"<")
    if ext == "pdf":
        return magic.head_matches("pdf", head)
    if ext == "csv":
        return b"\x00" not in head and magic.sniff_head(head) == "unknown"
    return False


def check_official_zip(f: BinaryIO, limits: ZipLimits, depth: int = 0) -> None:
    """A 公文書 ZIP: the structural and bomb rules of inspect_zip (no member allowlist there), then
    each member's extension against OFFICIAL_MEMBERS and its first bytes against the extension; an
    inner ZIP (二重ZIP) up to `limits.max_depth` deep, small, by the same rules. Raises ZipRefused."""
    report = inspect_zip(f, limits, allowlist=None)
    if report.kind != "zip":
        raise ZipRefused("member-type", "公文書のZIPではありません (Office 文書です)")
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            ext = extension_of(info.filename.rsplit("/", 1)[-1])
            if ext not in OFFICIAL_MEMBERS:
                raise ZipRefused("member-type", "公文書のZIPに含まれない種類のファイルがあります", info.filename)
            if ext == "zip":
                if depth + 1 > limits.max_depth or info.file_size > limits.max_nested_bytes:
                    raise ZipRefused("nested", f"ZIPの入れ子は{limits.max_depth}段までです", info.filename)
                inner = zf.read(info)
                if not magic.head_matches("zip", inner[:magic.HEAD_BYTES]):
                    raise ZipRefused("member-content", "ZIP内のファイルの内容が拡張子と一致しません", info.filename)
                try:
                    check_official_zip(io.BytesIO(inner), limits, depth + 1)
                except ZipRefused as exc:
                    raise ZipRefused(exc.reason, exc.detail, f"{info.filename}/{exc.member or ''}".rstrip("/")) from exc
                continue
            if info.file_size == 0:
                continue
            with zf.open(info) as member:
                head = member.read(512)
            if not _member_content_ok(ext, head):
                raise ZipRefused("member-content", "ZIP内のファイルの内容が拡張子と一致しません", info.filename)


def _verify(sealed: SealedUpload, limits: ZipLimits) -> None:
    with sealed.reader() as r:
        try:
            check_official_zip(r, limits)  # type: ignore[arg-type]
        except ZipRefused as exc:
            raise zip_refused(exc) from exc


def _same_or_conflict(db: Any, tenant_id: str, file_id: str, sha256: str) -> StoredFile:
    with db.sessions() as session:
        existing = repository.file_in_tenant(session, tenant_id, file_id)
    if existing is None:
        raise ProblemError(409, "conflict", "他の操作と競合しました", "もう一度送信してください")
    if existing.sha256 != sha256 or existing.status not in (service.AVAILABLE, service.QUARANTINED):
        raise ProblemError(409, "file-exists", "このIDのファイルは既にあります",
                           "同じIDで別の内容の公文書が保存されています", extra={"sha256": existing.sha256})
    return existing


async def store_official(rt: Runtime, ctx: FilesContext, p: Principal, request: Request, *, file_id: str,
                         name: str, owner: service.Owner) -> tuple[StoredFile, bool]:
    """Receive, check, scan and store one 公文書 ZIP (or find it stored already). (file, created)."""
    assert p.tenant_id is not None
    tenant_id = p.tenant_id
    actor = actor_of(p, request)
    await asyncio.to_thread(service.precheck, rt.db, ctx, tenant_id, file_id,
                            int(request.headers.get("content-length") or 0) or None, False)
    sealed = SealedUpload(ctx.tmp_dir, name, "zip", ctx.settings.max_file_bytes, keys.content_aad(tenant_id, file_id))
    try:
        await receive_raw(request.stream(), sealed)
        with rt.db.sessions() as session:
            before = repository.file_in_tenant(session, tenant_id, file_id)
        if before is not None:  # a retry: the same bytes answer the stored file
            return await asyncio.to_thread(_same_or_conflict, rt.db, tenant_id, file_id, sealed.sha256), False
        await asyncio.to_thread(_verify, sealed, ctx.zip_limits)
        scan_status, signature = await asyncio.to_thread(service._scan, ctx, sealed)
        try:
            stored = await asyncio.to_thread(service._commit, rt.db, rt.messaging, ctx, tenant_id, file_id, owner,
                                             actor, sealed, scan_status, signature)
        except (IntegrityError, ProblemError) as exc:
            if isinstance(exc, ProblemError) and exc.status != 409:
                raise
            # a concurrent retry committed first
            return await asyncio.to_thread(_same_or_conflict, rt.db, tenant_id, file_id, sealed.sha256), False
        rt.relay.notify()
    finally:
        sealed.discard()
    if stored.status == service.INFECTED:
        raise refused(422, "file-infected", "ウイルスが検出されたため受け付けられません",
                      "このファイルは保存されていません", signature=stored.scan_signature, file_id=stored.id)
    return stored, True


RAW_ZIP: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/zip": {"schema": {"type": "string", "format": "binary"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.put("/internal/official-documents/{file_id}", status_code=status.HTTP_201_CREATED, response_model=FileOut,
            responses={200: {"description": "同じ内容で保存済み (再送)", "model": FileOut},
                       **problem_responses(400, 401, 403, 409, 413, 415, 422)},
            openapi_extra=RAW_ZIP)
async def put_official_document(
    file_id: FileId, request: Request, response: Response, p: ServiceCaller, rt: Rt, jigyosho_id: JigyoshoId,
    content_disposition_header: Annotated[str, Header(
        alias="Content-Disposition", description="attachment; filename*=UTF-8''<到達番号>_<通知番号>.zip")],
    filing_id: RefId = None, procedure_id: RefId = None,
) -> FileOut:
    """Store a 公文書 ZIP for the efiling service (service token only): members .xml .xsl .pdf .csv
    and one inner .zip, each checked against its content; the ZIP bomb, path and magic-byte rules
    and the virus scan of user uploads. 201 stored; 200 when the same bytes are already stored under
    this id (a retry); 409 for other bytes under it."""
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() not in (
            "application/zip", "application/octet-stream"):
        raise ProblemError(415, "unsupported-media-type", "対応していないデータ形式です",
                           "application/zip で送ってください")
    try:
        uuid.UUID(file_id)
        raw = parse_content_disposition_name(content_disposition_header)
    except ValueError as exc:
        raise bad_name(str(exc)) from exc
    name, ext = check_name(raw)
    if ext != "zip":
        raise refused(415, "file-type-not-allowed", "公文書はZIPで送ってください", "拡張子 .zip のファイルのみです",
                      extension=ext)
    stored, created = await store_official(rt, files_ctx(rt), p, request, file_id=file_id.lower(), name=name,
                                           owner=service.Owner(jigyosho_id, procedure_id, filing_id))
    out = FileOut.model_validate(stored)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/files/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


__all__ = ["CALLERS", "OFFICIAL_MEMBERS", "check_official_zip", "router"]
