"""The three statutory books as CSV (UTF-8 with BOM, CRLF, for Excel), streamed page by page, each
page read in a short session of its own.

The columns follow DOMAIN.md B9's draft, which is **[要確認]**: the 様式 (第16号, 第18号, 組機様式第11号)
were not read. Ids stand where a value lives in another service: the 被保険者 is koyo_hoken's id (its
name and 被保険者番号 stay there; events never carry them), the 事業所 is accounts' id. Bank details
are never exported."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from services.jimukumiai.filing_book import KIND_LABELS
from services.jimukumiai.models import FilingBookEntry, LedgerEntry, Member, SpecialEnrolment
from shared.db import Database

BOM = "\ufeff"
PAGE = 1000

MEMBER_HEADER = ["労働保険番号", "枝番号", "事業主の氏名又は名称", "事業主の住所", "事業の名称", "事業の所在地",
                 "事業の種類", "常時使用労働者数", "雇用保険被保険者数", "委託された事務の範囲", "委託年月日",
                 "委託解除年月日", "特別加入の有無", "事業所ID", "委託事業主ID"]
LEDGER_HEADER = ["労働保険番号", "事業主の氏名又は名称", "年度", "区分", "期", "金額", "納期限", "年月日",
                 "取消対象の記帳ID", "摘要", "記帳ID", "委託事業主ID"]
FILING_HEADER = ["届出の種類", "労働保険番号", "事業主の氏名又は名称", "事業所ID", "被保険者ID", "受付年月日",
                 "提出年月日", "処理年月日", "状態", "電子申請の状態", "到達番号", "届出ID"]

SCOPE_LABELS = {"premiums": "保険料等の申告・納付", "insurance_relation": "保険関係成立届等",
                "koyo_notifications": "雇用保険被保険者に関する届出", "special_enrolment": "特別加入の申請等",
                "other": "その他の申請・届出・報告"}
LEDGER_KIND_LABELS = {
    "estimate": "概算保険料", "shortage": "確定保険料不足額", "general_contribution": "一般拠出金",
    "increase_estimate": "増加概算保険料",
    "confirmed": "確定保険料", "appropriated": "充当", "refund_claimed": "還付請求",
    "collected": "事業主から徴収", "paid_to_state": "国へ納付", "refund_received": "還付金の受領",
    "refund_paid": "事業主への還付",
}
STATE_LABELS = {"draft": "作成中", "checked": "点検済", "ready": "提出準備完了", "submitted": "提出済",
                "accepted": "審査中", "returned": "補正", "completed": "完了", "withdrawn": "取下げ"}

Cell = str | int | date | None
S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def _cell(v: Cell) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, int):
        return str(v)
    # A text cell Excel would read as a formula is prefixed with a quote (CSV injection).
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


@dataclass
class Tally:
    """What an export has written so far (for its operation-log entry): rows, and whether it ended."""

    rows: int = 0
    complete: bool = False


def _stream(db: Database, header: list[str], page: Any, tally: Tally | None) -> Iterator[bytes]:
    """`page(session, offset)` answers the rows of one page; the export ends with a short page."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    writer.writerow(header)
    offset = 0
    while True:
        with db.sessions() as session:
            rows: Sequence[list[Cell]] = page(session, offset)
        writer.writerows([[_cell(c) for c in r] for r in rows])
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        if tally is not None:
            tally.rows += len(rows)
        if len(rows) < PAGE:
            if tally is not None:
                tally.complete = True
            return
        offset += PAGE


def _scoped(stmt: S, column: Any, granted: Collection[str] | None, jigyosho_id: str | None) -> S:
    if granted is not None:
        stmt = stmt.where(column.in_(sorted(granted)))
    if jigyosho_id is not None:
        stmt = stmt.where(column == jigyosho_id)
    return stmt


def member_register(db: Database, tenant_id: str, since: date, until: date, granted: Collection[str] | None,
                    jigyosho_id: str | None, tally: Tally | None = None) -> Iterator[bytes]:
    """委託事業主名簿: members whose 委託 overlaps [since, until]; 特別加入 有 when a span does."""

    def page(session: Session, offset: int) -> list[list[Cell]]:
        stmt = _scoped(select(Member).where(
            Member.tenant_id == tenant_id, Member.kind == "entrusted", Member.entrusted_from <= until,
            or_(Member.entrusted_until.is_(None), Member.entrusted_until >= since)), Member.jigyosho_id, granted,
            jigyosho_id)
        members = session.execute(stmt.order_by(Member.labour_insurance_number, Member.id)
                                  .limit(PAGE).offset(offset)).scalars().all()
        special = set(session.execute(select(SpecialEnrolment.member_id).where(
            SpecialEnrolment.tenant_id == tenant_id, SpecialEnrolment.member_id.in_([m.id for m in members]),
            SpecialEnrolment.joined_on <= until,
            or_(SpecialEnrolment.left_on.is_(None), SpecialEnrolment.left_on > since))).scalars())
        return [[m.labour_insurance_number, m.branch_number, m.name, m.owner_address, m.business_name,
                 m.business_address, m.business_kind, m.regular_workers, m.insured_workers,
                 "・".join(SCOPE_LABELS.get(s, s) for s in m.entrusted_scope or []), m.entrusted_from,
                 m.entrusted_until, "有" if m.id in special else "無", m.jigyosho_id, m.id] for m in members]

    return _stream(db, MEMBER_HEADER, page, tally)


def premium_ledger(db: Database, tenant_id: str, since: date, until: date, granted: Collection[str] | None,
                   jigyosho_id: str | None, tally: Tally | None = None) -> Iterator[bytes]:
    """労働保険料等徴収及び納付簿: the entries dated (`occurred_on`) within [since, until], reversals
    included as they stand (the book is append-only)."""

    def page(session: Session, offset: int) -> list[list[Cell]]:
        stmt = _scoped(select(LedgerEntry, Member.labour_insurance_number, Member.name)
                       .join(Member, and_(Member.id == LedgerEntry.member_id, Member.tenant_id == tenant_id))
                       .where(LedgerEntry.tenant_id == tenant_id, Member.kind == "entrusted",
                              LedgerEntry.occurred_on >= since,
                              LedgerEntry.occurred_on <= until), Member.jigyosho_id, granted, jigyosho_id)
        rows = session.execute(stmt.order_by(Member.labour_insurance_number, LedgerEntry.fiscal_year,
                                             LedgerEntry.occurred_on, LedgerEntry.created_at, LedgerEntry.id)
                               .limit(PAGE).offset(offset)).all()
        return [[lin, name, e.fiscal_year, LEDGER_KIND_LABELS.get(e.kind, e.kind), e.period, e.amount, e.due_on,
                 e.occurred_on, e.reverses_id, e.note, e.id, e.member_id] for e, lin, name in rows]

    return _stream(db, LEDGER_HEADER, page, tally)


def filing_book(db: Database, tenant_id: str, since: date, until: date, granted: Collection[str] | None,
                jigyosho_id: str | None, tally: Tally | None = None) -> Iterator[bytes]:
    """雇用保険被保険者関係届出事務等処理簿: the 届出 received (受付日) within [since, until]."""

    def page(session: Session, offset: int) -> list[list[Cell]]:
        stmt = _scoped(select(FilingBookEntry, Member.labour_insurance_number, Member.name)
                       .join(Member, and_(Member.id == FilingBookEntry.member_id, Member.tenant_id == tenant_id))
                       .where(FilingBookEntry.tenant_id == tenant_id, Member.kind == "entrusted",
                              FilingBookEntry.received_on >= since,
                              FilingBookEntry.received_on <= until), FilingBookEntry.jigyosho_id, granted,
                       jigyosho_id)
        rows = session.execute(stmt.order_by(FilingBookEntry.received_on, FilingBookEntry.procedure_id)
                               .limit(PAGE).offset(offset)).all()
        return [[KIND_LABELS.get(f.kind or "", f.kind), lin, name, f.jigyosho_id, f.insured_person_id,
                 f.received_on, f.submitted_on, f.processed_on, STATE_LABELS.get(f.status or "", f.status),
                 f.filing_status, f.arrive_id, f.procedure_id] for f, lin, name in rows]

    return _stream(db, FILING_HEADER, page, tally)
