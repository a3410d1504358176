"""Routes of the files service: parse, authorize, call a use case.

Uploads: `POST /files` (multipart/form-data, one part `file`) and `PUT /files/{id}` (the raw
bytes as application/octet-stream, the name in `Content-Disposition: attachment;
filename*=UTF-8''…`). Ownership (事業所, procedure, filing, retention) travels in the query, so it
is authorised before a byte of content is read."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from services.files import repository, service
from services.files.context import FilesContext
from services.files.links import LinkClaims, LinkError, sign_link, verify_link
from services.files.models import StoredFile
from services.files.rules.names import content_disposition, parse_content_disposition_name
from services.files.schemas import DownloadLinkOut, FileList, FileMetadataCreate, FileOut, UsageOut
from services.files.storage import S3Error
from services.files.upload import bad_name
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.errors import ProblemError, not_found, problem_responses
from shared.events import Actor
from shared.permissions import FILES, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("files"), tags=["files"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(FILES, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(FILES, "write"))]

PROBLEMS = problem_responses(401, 403, 404, 422)
UPLOAD_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)
ID = r"^[0-9a-fA-F-]{36}$"
FileId = Annotated[str, Path(pattern=ID)]
JigyoshoId = Annotated[str, Query(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9_-]+$",
                                  description="ファイルが属する事業所")]
RefId = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Retention = Annotated[datetime | None, Query(description="保存期限 (この日時を過ぎると削除)")]


def files_ctx(rt: Runtime) -> FilesContext:
    ctx: FilesContext = rt.extras["files"]
    return ctx


def _visible(access: Access, f: StoredFile | None) -> StoredFile:
    """The file when it is in the caller's tenant and 事業所 scope; 404 otherwise."""
    if f is None:
        raise not_found()
    if f.jigyosho_id is None:
        if access.jigyosho_ids is not None:
            raise not_found()
    else:
        access.check_jigyosho(f.jigyosho_id)
    return f


def _owner(access: Access, jigyosho_id: str, procedure_id: str | None, filing_id: str | None,
           retention_until: datetime | None) -> service.Owner:
    access.check_jigyosho(jigyosho_id)
    if retention_until is not None and retention_until.tzinfo is None:
        raise ProblemError(422, "validation", "入力内容に誤りがあります",
                           "retention_until にはタイムゾーンを付けてください")
    return service.Owner(jigyosho_id, procedure_id, filing_id, retention_until)


def _declared(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _created(response: Response, stored: StoredFile) -> FileOut:
    out = FileOut.model_validate(stored)
    response.headers["Location"] = f"{router.prefix}/files/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


MULTIPART_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "ファイル (100 MB まで)"}}}}}}}
RAW_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
    "type": "string", "format": "binary"}}}}}


@router.post("/files", status_code=status.HTTP_201_CREATED, response_model=FileOut, responses=UPLOAD_PROBLEMS,
             openapi_extra=MULTIPART_BODY)
async def upload_multipart(request: Request, response: Response, p: TenantPrincipal, access: CanWrite, rt: Rt,
                           jigyosho_id: JigyoshoId, procedure_id: RefId = None, filing_id: RefId = None,
                           retention_until: Retention = None) -> FileOut:
    """Upload one file as multipart/form-data (part `file`). The 事業所 must be known and not closed
    (404 / 409 `jigyosho-closed`, before a byte is read). Checked while it streams: name and
    extension, size, magic bytes; then ZIP rules and the virus scan. 201 with the file, or a
    problem+json naming the refusal."""
    owner = _owner(access, jigyosho_id, procedure_id, filing_id, retention_until)
    if _media_type(request) != "multipart/form-data":
        raise ProblemError(415, "unsupported-media-type", "対応していないデータ形式です",
                           "multipart/form-data で送ってください")
    await asyncio.to_thread(service.check_owner, rt.db, access.tenant_id, owner, p.kind == "service")
    stored = await service.upload(
        rt.db, rt.messaging, files_ctx(rt), rt.relay.notify, tenant_id=access.tenant_id, file_id=str(uuid.uuid4()),
        owner=owner, actor=actor_of(p, request), chunks=request.stream(), raw_name=None,
        multipart_type=request.headers.get("content-type", ""), declared=_declared(request), reuse_check=False)
    return _created(response, stored)


@router.put("/files/{file_id}", status_code=status.HTTP_201_CREATED, response_model=FileOut,
            responses=UPLOAD_PROBLEMS, openapi_extra=RAW_BODY)
async def upload_raw(file_id: FileId, request: Request, response: Response, p: TenantPrincipal, access: CanWrite,
                     rt: Rt, jigyosho_id: JigyoshoId,
                     content_disposition_header: Annotated[str, Header(
                         alias="Content-Disposition",
                         description="attachment; filename*=UTF-8''<URLエンコードしたファイル名>")],
                     procedure_id: RefId = None, filing_id: RefId = None,
                     retention_until: Retention = None) -> FileOut:
    """Upload one file as the raw body (application/octet-stream) under an id the client chose
    (a UUID; files are immutable: an id this tenant already used is 409; ids are per tenant, so an
    id another tenant uses is simply a new file here). The 事業所 must be known and not closed
    (404 / 409 `jigyosho-closed`)."""
    owner = _owner(access, jigyosho_id, procedure_id, filing_id, retention_until)
    if _media_type(request) != "application/octet-stream":
        raise ProblemError(415, "unsupported-media-type", "対応していないデータ形式です",
                           "application/octet-stream で送ってください")
    try:
        uuid.UUID(file_id)
        name = parse_content_disposition_name(content_disposition_header)
    except ValueError as exc:
        raise bad_name(str(exc)) from exc
    await asyncio.to_thread(service.check_owner, rt.db, access.tenant_id, owner, p.kind == "service")
    stored = await service.upload(
        rt.db, rt.messaging, files_ctx(rt), rt.relay.notify, tenant_id=access.tenant_id, file_id=file_id.lower(),
        owner=owner, actor=actor_of(p, request), chunks=request.stream(), raw_name=name, multipart_type=None,
        declared=_declared(request), reuse_check=True)
    return _created(response, stored)


@router.post("/files/metadata", status_code=status.HTTP_201_CREATED, response_model=FileOut, responses=PROBLEMS)
def register_metadata(body: FileMetadataCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                      response: Response) -> FileOut:
    """Register a file's metadata only (name, type, size, SHA-256), without content."""
    with rt.transaction() as session:
        stored = service.register_metadata(session, access.tenant_id, body, actor_of(p, request))
        out = FileOut.model_validate(stored)
    response.headers["Location"] = f"{router.prefix}/files/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/files", response_model=FileList, responses=PROBLEMS)
def list_files(access: CanRead, rt: Rt, jigyosho_id: Annotated[str | None, Query(max_length=36)] = None,
               procedure_id: RefId = None, filing_id: RefId = None,
               include_deleted: bool = False, after: Annotated[str | None, Query(max_length=36)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> FileList:
    """Files of the 事業所 the caller may see, by id."""
    with rt.db.sessions() as session:
        rows = repository.list_files(session, access.tenant_id, access.jigyosho_ids, jigyosho_id=jigyosho_id,
                                     procedure_id=procedure_id, filing_id=filing_id,
                                     include_deleted=include_deleted, limit=limit + 1, after=after)
        items = [FileOut.model_validate(r) for r in rows[:limit]]
    return FileList(items=items, next_after=items[-1].id if len(rows) > limit else None)


@router.get("/usage", response_model=UsageOut, responses=PROBLEMS)
def usage(access: CanRead, rt: Rt) -> UsageOut:
    """The tenant's stored bytes and files against its quota."""
    s = files_ctx(rt).settings
    with rt.db.sessions() as session:
        now = service.usage_of(session, access.tenant_id)
    return UsageOut(**now, quota_bytes=s.quota_bytes, quota_files=s.quota_files)


@router.get("/files/{file_id}", response_model=FileOut, responses=PROBLEMS)
def get_file(file_id: str, access: CanRead, rt: Rt, response: Response) -> FileOut:
    with rt.db.sessions() as session:
        # Scoped by tenant and 事業所: another tenant's id is indistinguishable from a missing one (404).
        stored = _visible(access, repository.file_in_tenant(session, access.tenant_id, file_id))
        response.headers["ETag"] = f'"{stored.version}"'
        return FileOut.model_validate(stored)


def _download(rt: Runtime, f: StoredFile, actor: Actor, via: str) -> StreamingResponse:
    """Answer 200 only for content that is there: the row is read again (a delete may have committed
    since the caller's read), the object is opened and its first piece decrypted before the answer
    starts, and the download is recorded only then — never for a file whose bytes are gone."""
    ctx = files_ctx(rt)
    with rt.db.sessions() as session:
        current = repository.file_in_tenant(session, f.tenant_id, f.id)
        if current is None:
            raise not_found()
        service.servable(current)
        key = service.file_key(session, ctx, current)
        f = current
    body = service.plaintext(ctx, f, key)
    try:
        first = next(body, b"")
    except (FileNotFoundError, S3Error) as exc:
        if isinstance(exc, S3Error) and exc.status != 404:
            raise
        # Deleted between our read and the open: the delete's commit came first.
        raise ProblemError(410, "file-gone", "このファイルは削除されています") from None
    with rt.transaction() as session:
        service.record_download(session, f, actor, via)
    return StreamingResponse(itertools.chain([first], body), media_type=f.content_type, headers={
        "Content-Length": str(f.size_bytes),
        # Always a download, never rendered (ASVS 12.5.2); the name survives in RFC 5987 form.
        "Content-Disposition": content_disposition(f.original_name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
        "ETag": f'"{f.sha256}"',
    })


DOWNLOAD = {200: {"description": "ファイルの内容", "content": {"application/octet-stream": {}}},
            **problem_responses(401, 403, 404, 409, 410)}


@router.get("/files/{file_id}/content", response_class=StreamingResponse, responses=DOWNLOAD)
def download(file_id: str, p: TenantPrincipal, access: CanRead, rt: Rt, request: Request) -> StreamingResponse:
    """The file's content, as an attachment with its original name."""
    with rt.db.sessions() as session:
        f = _visible(access, repository.file_in_tenant(session, access.tenant_id, file_id))
    return _download(rt, f, actor_of(p, request), "bearer")


@router.post("/files/{file_id}/download-link", response_model=DownloadLinkOut, responses=PROBLEMS)
def download_link(file_id: str, p: TenantPrincipal, access: CanRead, rt: Rt) -> DownloadLinkOut:
    """A signed link to the content, valid for ROUMU_FILES_DOWNLOAD_LINK_SECONDS, bound to this
    file of this tenant; usable without a bearer token (an <a download> in the SPA, a partner)."""
    ctx = files_ctx(rt)
    with rt.db.sessions() as session:
        f = _visible(access, repository.file_in_tenant(session, access.tenant_id, file_id))
    service.servable(f)
    expires = ctx.clock.now() + timedelta(seconds=ctx.settings.download_link_seconds)
    token = sign_link(ctx.data_keys, LinkClaims(f.id, f.tenant_id, int(expires.timestamp()), p.kind, p.subject))
    return DownloadLinkOut(url=f"{router.prefix}/downloads/{token}", expires_at=expires.replace(microsecond=0))


@router.get("/downloads/{token}", response_class=StreamingResponse, responses=DOWNLOAD)
def download_by_link(token: Annotated[str, Path(max_length=1024, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")],
                     rt: Rt, request: Request) -> StreamingResponse:
    """The content behind a signed link (no bearer token: the link is the permission)."""
    ctx = files_ctx(rt)
    try:
        claims = verify_link(ctx.data_keys, token, ctx.clock.now())
    except LinkError as exc:
        raise ProblemError(403, "link-invalid", "ダウンロードリンクが無効か期限切れです",
                           "もう一度ダウンロードリンクを発行してください") from exc
    with rt.db.sessions() as session:
        f = repository.file_in_tenant(session, claims.tenant_id, claims.file_id)
    if f is None:
        raise not_found()
    kind = claims.actor_kind if claims.actor_kind in ("user", "partner", "service", "operator") else "user"
    ip = request.headers.get("x-roumu-client-ip") or (request.client.host if request.client else None)
    return _download(rt, f, Actor(kind=kind, id=claims.actor_id, ip=ip), "link")


@router.delete("/files/{file_id}", status_code=status.HTTP_204_NO_CONTENT, responses=PROBLEMS)
def delete_file(file_id: str, p: TenantPrincipal, access: CanWrite, rt: Rt, request: Request) -> Response:
    """Delete the content (and its key); the record stays, status `deleted`."""
    ctx = files_ctx(rt)
    with rt.transaction() as session:
        f = _visible(access, repository.file_in_tenant(session, access.tenant_id, file_id))
        service.delete_file(session, ctx, f, actor_of(p, request), "user")
    return Response(status_code=204)
