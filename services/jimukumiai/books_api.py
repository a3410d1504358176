"""Routes of the statutory books: each as CSV for a date range (事務組合 menu, read; the caller's
事業所 only — a `jigyosho_id` outside the grant is 404, like a missing one)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from services.jimukumiai import books
from services.jimukumiai.api import CanRead, Rt
from services.jimukumiai.schemas import REF_ID
from shared.db import Database
from shared.errors import ProblemError, problem_responses
from shared.permissions import Access
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai"), tags=["jimukumiai statutory books"])
CSV_RESPONSES = {200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM, CRLF"},
                 **problem_responses(401, 403, 404, 422)}
Since = Annotated[date, Query(alias="from", description="first day of the range (inclusive)")]
Until = Annotated[date, Query(alias="to", description="last day of the range (inclusive)")]
JigyoshoId = Annotated[str | None, Query(pattern=REF_ID, description="one 事業所 only")]
Export = Callable[[Database, str, date, date, Collection[str] | None, str | None], Iterator[bytes]]


def _csv(export: Export, filename: str, access: Access, rt: Rt, since: date, until: date,
         jigyosho_id: str | None) -> StreamingResponse:
    if since > until:
        raise ProblemError(422, "invalid-range", "期間の指定が正しくありません", "from は to 以前の日付にしてください")
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    chunks = export(rt.db, access.tenant_id, since, until, access.jigyosho_ids, jigyosho_id)
    name = f"{filename}_{since:%Y%m%d}-{until:%Y%m%d}.csv"
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/books/member-register.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def member_register(access: CanRead, rt: Rt, since: Since, until: Until,
                    jigyosho_id: JigyoshoId = None) -> StreamingResponse:
    """労働保険事務等処理委託事業主名簿: the members entrusted at any time within the range (委託年月日
    on or before `to`, 委託解除年月日 none or on or after `from`). Kept 3 years after the 委託解除日.
    Columns per DOMAIN.md B9's draft [要確認]; no bank details."""
    return _csv(books.member_register, "member-register", access, rt, since, until, jigyosho_id)


@router.get("/books/premium-ledger.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def premium_ledger(access: CanRead, rt: Rt, since: Since, until: Until,
                   jigyosho_id: JigyoshoId = None) -> StreamingResponse:
    """労働保険料等徴収及び納付簿: the ledger entries dated within the range, reversals included (the
    book is append-only). A member's page of a 年度 is kept 3 years after it is settled."""
    return _csv(books.premium_ledger, "premium-ledger", access, rt, since, until, jigyosho_id)


@router.get("/books/filing-register.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def filing_register(access: CanRead, rt: Rt, since: Since, until: Until,
                    jigyosho_id: JigyoshoId = None) -> StreamingResponse:
    """雇用保険被保険者関係届出事務等処理簿: the members' 雇用保険 届出 received (受付日) within the range,
    from koyo_hoken and e-filing events; the 被保険者 by koyo_hoken's id (no names, no My Number).
    Kept 4 years after the 届出 ended."""
    return _csv(books.filing_book, "filing-register", access, rt, since, until, jigyosho_id)
