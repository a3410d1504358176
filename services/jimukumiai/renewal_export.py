"""The stored 年度更新 results of a fiscal year as CSV (issue 25): one row per employer with the
figures of its 申告書 (労働保険 概算・確定保険料 申告書) — 確定 bases, rates and premiums of the past
year, 一般拠出金, the 概算 of the year, the settlement (不足額 / 充当 / 還付) and the 延納 schedule
with its due dates. UTF-8 with BOM and CRLF like the statutory books (books.py), streamed page by
page; for one kind of member (the association's `entrusted`, or the office's `client`) only.

The CSV is data for the office's 控え and its own checks, not the 様式 itself (the PDF of the
申告書 控え is a later slice)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from services.jimukumiai.books import PAGE, Cell, Tally, _stream
from services.jimukumiai.models import Member, Renewal
from shared.db import Database

KIND_LABELS = {"entrusted": "事務組合委託", "client": "顧問先 (事務組合外)"}
HEADER = ["労働保険番号", "事業主の氏名又は名称", "区分", "年度",
          "確定 労災保険 算定基礎額", "確定 労災保険率(‰)", "確定 労災保険料",
          "確定 雇用保険 算定基礎額", "確定 雇用保険率(‰)", "確定 雇用保険料", "確定 特別加入保険料", "確定保険料",
          "一般拠出金", "申告済概算保険料", "不足額", "超過額", "充当額(概算保険料へ)", "充当額(一般拠出金へ)",
          "還付請求額",
          "概算 労災保険 算定基礎額", "概算 労災保険率(‰)", "概算 雇用保険 算定基礎額", "概算 雇用保険率(‰)",
          "概算保険料", "延納", "申告・納付期限",
          "第1期 納付額", "第1期 納期限", "第2期 納付額", "第2期 納期限", "第3期 納付額", "第3期 納期限",
          "事業所ID", "委託事業主ID"]


def _rate(v: Any) -> str | None:
    return None if v is None else str(v)


def row(member_number: str, name: str, kind: str, jigyosho_id: str, member_id: str, r: dict[str, Any]
        ) -> list[Cell]:
    """One employer's line from its stored result (the calculator's RenewalOut as JSON)."""
    c = r.get("confirmed") or {}
    e, s, plan = r["estimate"], r["settlement"], r["plan"]
    periods: list[Cell] = []
    installments = {i["number"]: i for i in plan["installments"]}
    for n in (1, 2, 3):
        i = installments.get(n)
        periods += [i["amount_due"], i["due_on"]] if i else [None, None]
    return [member_number, name, KIND_LABELS.get(kind, kind), r["fiscal_year"],
            c.get("rousai_base"), _rate(c.get("rousai_rate")), c.get("rousai_premium"),
            c.get("koyo_base"), _rate(c.get("koyo_rate")), c.get("koyo_premium"), c.get("special_premium"),
            c.get("total"),
            r["general_contribution"], s["paid_estimate"], s["shortage"], s["excess"], s["applied_to_premium"],
            s["applied_to_general_contribution"], s["refund"],
            e["rousai_base"], _rate(e["rousai_rate"]), e["koyo_base"], _rate(e["koyo_rate"]),
            e["total"], "有" if plan["allowed"] and len(plan["installments"]) > 1 else "無", r["filing_deadline"],
            *periods, jigyosho_id, member_id]


def page(session: Session, tenant_id: str, fiscal_year: int, kind: str, granted: Collection[str] | None,
         jigyosho_id: str | None, limit: int, offset: int) -> tuple[list[tuple[Any, ...]], int]:
    """One page of the year's stored results of members of `kind` (JSON export), and the total."""
    where = [Renewal.tenant_id == tenant_id, Renewal.fiscal_year == fiscal_year, Member.kind == kind]
    if granted is not None:
        where.append(Member.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(Member.jigyosho_id == jigyosho_id)
    joined = and_(Member.id == Renewal.member_id, Member.tenant_id == tenant_id)
    total = session.execute(select(func.count()).select_from(Renewal).join(Member, joined).where(*where)).scalar_one()
    rows = session.execute(select(Member.id, Member.labour_insurance_number, Member.name, Member.kind,
                                  Member.jigyosho_id, Renewal.result).join(Member, joined).where(*where)
                           .order_by(Member.labour_insurance_number, Member.id).limit(limit).offset(offset)).all()
    return [tuple(r) for r in rows], int(total)


def results(db: Database, tenant_id: str, fiscal_year: int, kind: str, granted: Collection[str] | None,
            jigyosho_id: str | None, tally: Tally | None = None, member_id: str | None = None) -> Iterator[bytes]:
    """The year's stored results of the tenant's members of `kind` (the caller's 事業所 only; one
    member with `member_id`)."""

    def page(session: Session, offset: int) -> list[list[Cell]]:
        stmt = (select(Renewal.result, Member.labour_insurance_number, Member.name, Member.kind, Member.jigyosho_id,
                       Member.id)
                .join(Member, and_(Member.id == Renewal.member_id, Member.tenant_id == tenant_id))
                .where(Renewal.tenant_id == tenant_id, Renewal.fiscal_year == fiscal_year, Member.kind == kind))
        if granted is not None:
            stmt = stmt.where(Member.jigyosho_id.in_(sorted(granted)))
        if jigyosho_id is not None:
            stmt = stmt.where(Member.jigyosho_id == jigyosho_id)
        if member_id is not None:
            stmt = stmt.where(Member.id == member_id)
        rows = session.execute(stmt.order_by(Member.labour_insurance_number, Member.id)
                               .limit(PAGE).offset(offset)).all()
        return [row(lin, name, k, js, mid, result) for result, lin, name, k, js, mid in rows]

    return _stream(db, HEADER, page, tally)

