"""Routes of the audit-log service."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from services.audit_log import export, repository, service
from services.audit_log.models import Checkpoint
from services.audit_log.repository import EntryFilter
from services.audit_log.rules.checkpoint import NoteError
from services.audit_log.schemas import (
    ChainOut,
    CheckpointKeysOut,
    CheckpointOut,
    CheckpointPage,
    EntryOut,
    EntryPage,
    MismatchOut,
    VerifyIn,
    VerifyOut,
)
from services.audit_log.settings import AuditLogSettings
from services.audit_log.signer import CheckpointSigner
from shared.auth_deps import TenantPrincipal, require_menu
from shared.clock import Clock
from shared.errors import ProblemError, forbidden, problem_responses
from shared.permissions import OPERATION_LOGS, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("audit_log"), tags=["audit-log"])
Rt = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[Access, Depends(require_menu(OPERATION_LOGS, "read"))]
Writer = Annotated[Access, Depends(require_menu(OPERATION_LOGS, "write"))]

ID = r"^[A-Za-z0-9_.:@-]+$"
Cursor = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$",
                                     description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]


@dataclass(frozen=True)
class AuditContext:
    """What the routes and background jobs of audit_log share (on rt.extras["audit"])."""

    clock: Clock
    signer: CheckpointSigner
    settings: AuditLogSettings


def context(rt: Runtime) -> AuditContext:
    ctx: AuditContext = rt.extras["audit"]
    return ctx


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{seq}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, seq = text.partition(":")
        if version != "v1" or not seq.isdigit():
            raise ValueError(text)
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ProblemError(422, "invalid-cursor", "カーソルが正しくありません",
                           "cursor は前のページの next_cursor を指定してください") from None


def _page(items: list[EntryOut], limit: int) -> EntryPage:
    return EntryPage(items=items, next_cursor=encode_cursor(items[-1].seq) if len(items) == limit else None)


def entry_filter(
    user_id: Annotated[str | None, Query(max_length=64, pattern=ID, description="who did it")] = None,
    jigyosho_id: Annotated[str | None, Query(max_length=36, pattern=ID)] = None,
    action: Annotated[str | None, Query(max_length=200, pattern=r"^[a-z_.]+$",
                                        description="an event type, or a prefix ending in '.'")] = None,
    type: Annotated[str | None, Query(max_length=200, pattern=r"^[a-z_.]+$",
                                      description="the same as `action` (older name)")] = None,
    target: Annotated[str | None, Query(max_length=100, pattern=ID,
                                        description="any id the entry is about (a person, a filing, ...)")] = None,
    since: Annotated[datetime | None, Query(description="occurred at or after")] = None,
    until: Annotated[datetime | None, Query(description="occurred before")] = None,
    category: Annotated[str | None, Query(pattern=r"^(login|operation)$")] = None,
    actor_kind: Annotated[str | None, Query(
        pattern=r"^(user|partner|service|system|operator)$",
        description="who did it, by kind: `operator` lists the 運用者による操作 (system operators' actions on "
                    "this tenant, under the operator's name)")] = None,
) -> EntryFilter:
    for t in (since, until):
        if t is not None and t.tzinfo is None:
            raise ProblemError(422, "naive-time", "日時にはタイムゾーンが必要です",
                               "since / until は 2026-04-01T09:00:00+09:00 のようにオフセット付きで指定してください")
    return EntryFilter(user_id=user_id, jigyosho_id=jigyosho_id, action=action or type, target=target,
                       since=since, until=until, category=category, actor_kind=actor_kind)


Filter = Annotated[EntryFilter, Depends(entry_filter)]


@router.get("/entries", response_model=EntryPage, responses=problem_responses(401, 403, 422))
def list_entries(access: Reader, rt: Rt, flt: Filter, cursor: Cursor = None, limit: Limit = 100) -> EntryPage:
    """The log screen: operation logs (90 days) and login history (1 year) of the caller's tenant,
    newest first (the operation-log menu: administrators, or staff granted it; staff limited to some
    事業所 see the entries of those only)."""
    ctx = context(rt)
    with rt.db.sessions() as session:
        rows = repository.entries(session, access.tenant_id, flt, now=ctx.clock.now(),
                                  jigyosho_scope=access.jigyosho_ids, before=decode_cursor(cursor), limit=limit)
        items = [EntryOut.model_validate(r) for r in rows]
    return _page(items, limit)


@router.get("/entries.csv", response_class=StreamingResponse, responses={
    200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM, CRLF"}, **problem_responses(401, 403, 422)})
def export_entries(access: Reader, rt: Rt, flt: Filter) -> StreamingResponse:
    """The same entries as /entries with the same filters, as CSV for Excel, streamed."""
    ctx = context(rt)
    chunks = export.csv_chunks(rt.db, access.tenant_id, flt, now=ctx.clock.now(),
                               jigyosho_scope=access.jigyosho_ids, page_size=ctx.settings.export_page_size)
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="operation-log.csv"'})


@router.get("/me/logins", response_model=EntryPage, responses=problem_responses(401, 403, 422))
def my_logins(
    p: TenantPrincipal, rt: Rt, cursor: Cursor = None, limit: Limit = 100,
    since: Annotated[datetime | None, Query()] = None, until: Annotated[datetime | None, Query()] = None,
) -> EntryPage:
    """The caller's own login history (logins, refused attempts, lockouts) of the last year."""
    if p.kind != "user":
        raise forbidden("ログイン履歴は利用者本人だけが閲覧できます")
    assert p.tenant_id
    flt = entry_filter(since=since, until=until)
    with rt.db.sessions() as session:
        rows = repository.login_history(session, p.tenant_id, p.subject, now=context(rt).clock.now(),
                                        since=flt.since, until=flt.until, before=decode_cursor(cursor), limit=limit)
        items = [EntryOut.model_validate(r) for r in rows]
    return _page(items, limit)


@router.get("/my-number-views", response_model=EntryPage, responses=problem_responses(401, 403, 422))
def my_number_views(
    access: Reader, rt: Rt,
    person_id: Annotated[str, Query(max_length=100, pattern=ID, description="the insured person's id")],
    cursor: Cursor = None, limit: Limit = 100,
) -> EntryPage:
    """Who saw what: every access to one person's My Number (roumu.koyo_hoken.my_number.viewed, and
    roumu.efiling.my_number.viewed for e-filing packages downloaded with the number shown), newest
    first — who, when, from where, in which request."""
    with rt.db.sessions() as session:
        rows = repository.views_of(session, access.tenant_id, service.MY_NUMBER_VIEW_TYPES, person_id,
                                   now=context(rt).clock.now(), jigyosho_scope=access.jigyosho_ids,
                                   before=decode_cursor(cursor), limit=limit)
        items = [EntryOut.model_validate(r) for r in rows]
    return _page(items, limit)


def _verify(access: Access, rt: Runtime, notes: list[str]) -> VerifyOut:
    if access.jigyosho_ids is not None:
        raise forbidden("ログ全体の検証は全事業所を閲覧できる利用者だけが行えます")
    ctx = context(rt)
    try:
        with rt.db.sessions() as session:
            report = service.verify_tenant(session, ctx.signer, access.tenant_id, ctx.clock.now(), notes)
    except NoteError as exc:
        raise ProblemError(422, "invalid-checkpoint", "チェックポイントを検証できません", str(exc)) from None
    first = report.first_mismatch
    return VerifyOut(
        tenant_id=report.tenant_id, ok=report.ok, verified_at=report.verified_at,
        first_mismatch=MismatchOut(**vars(first)) if first else None,
        chains=[ChainOut(category=c.category, start_seq=c.start_seq, last_seq=c.last_seq,
                         entries_checked=c.entries_checked, checkpoints_checked=c.checkpoints_checked,
                         mismatch=MismatchOut(**vars(c.mismatch)) if c.mismatch else None) for c in report.chains],
    )


@router.get("/verify", response_model=VerifyOut, responses=problem_responses(401, 403))
def verify(access: Reader, rt: Rt) -> VerifyOut:
    """Replay the tenant's chains against their signed checkpoints; names the first entry that does
    not match (changed, or missing)."""
    return _verify(access, rt, [])


@router.post("/verify", response_model=VerifyOut, responses=problem_responses(401, 403, 422))
def verify_with_notes(access: Reader, rt: Rt, body: VerifyIn) -> VerifyOut:
    """The same, also against checkpoints exported earlier and kept elsewhere (their signed notes):
    they catch a log rewritten together with the checkpoints stored beside it."""
    return _verify(access, rt, body.notes)


def _checkpoint_out(cp: Checkpoint) -> CheckpointOut:
    return CheckpointOut(id=cp.id, category=cp.category, tenant_seq=cp.tenant_seq, head_hash=cp.head_hash,
                         signed_at=cp.signed_at, kind=cp.kind, key_id=cp.key_id, note=service.checkpoint_note(cp))


@router.get("/checkpoints", response_model=CheckpointPage, responses=problem_responses(401, 403, 422))
def list_checkpoints(
    access: Reader, rt: Rt, cursor: Cursor = None, limit: Limit = 100,
    category: Annotated[str | None, Query(pattern=r"^(login|operation)$")] = None,
) -> CheckpointPage:
    """The tenant's signed checkpoints, newest first, each with its note to export."""
    with rt.db.sessions() as session:
        rows = repository.checkpoints(session, access.tenant_id, category=category, before=decode_cursor(cursor),
                                      limit=limit)
        items = [_checkpoint_out(r) for r in rows]
    return CheckpointPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == limit else None)


@router.post("/checkpoints", response_model=list[CheckpointOut], status_code=201,
             responses=problem_responses(401, 403))
def sign_checkpoints(access: Writer, rt: Rt) -> list[CheckpointOut]:
    """Sign a checkpoint of each of the tenant's chains that grew since its last one, now (e.g.
    before exporting); the periodic job does the same on its own."""
    ctx = context(rt)
    with rt.transaction() as session:
        made = service.sign_checkpoints(session, ctx.signer, ctx.clock.now(), tenant_id=access.tenant_id,
                                        kind="manual")
        return [_checkpoint_out(cp) for cp in made]


@router.get("/checkpoint-keys", response_model=CheckpointKeysOut)
def checkpoint_keys(rt: Rt) -> CheckpointKeysOut:
    """The public keys that verify checkpoints (public, like a JWKS): as JWKs and as C2SP verifier keys."""
    ctx = context(rt)
    ctx.signer.reload()
    return CheckpointKeysOut.model_validate(ctx.signer.published())
