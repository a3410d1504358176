"""Routes of the statutory books: each as CSV for a date range (事務組合 menu, read; the caller's
事業所 only — a `jigyosho_id` outside the grant is 404, like a missing one). Each export is in the
operation log when its stream ends (roumu.jimukumiai.book.exported: book, range, rows; not the rows)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.jimukumiai import books, events
from services.jimukumiai.api import CanRead, Rt
from services.jimukumiai.models import messaging
from services.jimukumiai.schemas import REF_ID
from shared.auth_deps import TenantPrincipal, actor_of
from shared.db import Database
from shared.errors import ProblemError, problem_responses
from shared.events import Actor
from shared.permissions import Access
from shared.service_app import Runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai"), tags=["jimukumiai statutory books"])
CSV_RESPONSES = {200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM, CRLF"},
                 **problem_responses(401, 403, 404, 422)}
Since = Annotated[date, Query(alias="from", description="first day of the range (inclusive)")]
Until = Annotated[date, Query(alias="to", description="last day of the range (inclusive)")]
JigyoshoId = Annotated[str | None, Query(pattern=REF_ID, description="one 事業所 only")]
Export = Callable[[Database, str, date, date, Collection[str] | None, str | None, books.Tally], Iterator[bytes]]


def _recorded(chunks: Iterator[bytes], tally: books.Tally, rt: Runtime, tenant_id: str, actor: Actor, book: str,
              since: date, until: date, jigyosho_id: str | None) -> Iterator[bytes]:
    """The export's chunks; when the stream ends (complete, or cut short) its operation-log entry."""
    try:
        yield from chunks
    finally:
        with rt.transaction() as session:
            messaging.record(session, events.book_exported(tenant_id, actor, book, since, until, jigyosho_id,
                                                           tally.rows, tally.complete))
        rt.relay.notify()


def _csv(export: Export, filename: str, access: Access, p: TenantPrincipal, request: Request, rt: Rt, since: date,
         until: date, jigyosho_id: str | None) -> StreamingResponse:
    if since > until:
        raise ProblemError(422, "invalid-range", "期間の指定が正しくありません", "from は to 以前の日付にしてください")
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    tally = books.Tally()
    chunks = _recorded(export(rt.db, access.tenant_id, since, until, access.jigyosho_ids, jigyosho_id, tally), tally,
                       rt, access.tenant_id, actor_of(p, request), filename, since, until, jigyosho_id)
    name = f"{filename}_{since:%Y%m%d}-{until:%Y%m%d}.csv"
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/books/member-register.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def member_register(access: CanRead, p: TenantPrincipal, request: Request, rt: Rt, since: Since, until: Until,
                    jigyosho_id: JigyoshoId = None) -> StreamingResponse:
    """労働保険事務等処理委託事業主名簿: the members entrusted at any time within the range (委託年月日
    on or before `to`, 委託解除年月日 none or on or after `from`). Kept 3 years after the 委託解除日.
    Columns per DOMAIN.md B9's draft [要確認]; no bank details."""
    return _csv(books.member_register, "member-register", access, p, request, rt, since, until, jigyosho_id)


@router.get("/books/premium-ledger.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def premium_ledger(access: CanRead, p: TenantPrincipal, request: Request, rt: Rt, since: Since, until: Until,
                   jigyosho_id: JigyoshoId = None) -> StreamingResponse:
    """労働保険料等徴収及び納付簿: the ledger entries dated within the range, reversals included (the
    book is append-only). A member's page of a 年度 is kept 3 years after it is settled."""
    return _csv(books.premium_ledger, "premium-ledger", access, p, request, rt, since, until, jigyosho_id)


@router.get("/books/filing-register.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def filing_register(access: CanRead, p: TenantPrincipal, request: Request, rt: Rt, since: Since, until: Until,
                    jigyosho_id: JigyoshoId = None) -> StreamingResponse:
    """雇用保険被保険者関係届出事務等処理簿: the members' 雇用保険 届出 received (受付日) within the range,
    from koyo_hoken and e-filing events; the 被保険者 by koyo_hoken's id (no names, no My Number).
    Kept 4 years after the 届出 ended."""
    return _csv(books.filing_book, "filing-register", access, p, request, rt, since, until, jigyosho_id)
