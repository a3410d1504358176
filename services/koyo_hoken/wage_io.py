"""Import of wage histories from payroll CSV (issue 25): monthly wages by 賃金締切 period with their
支払基礎日数 (and hours), and bonuses, per person — for the 離職証明書 wage table (rules/rishoku.py).

Each row names its person by 従業員番号 (`employee_number`), 被保険者番号 or Roumu's id, among the
persons of the caller's 事業所. A monthly row needs period_start, period_end, basic_days and
wages_a (wages_b: 日・時間・出来高払 = 0 when absent); a bonus row needs paid_on and bonus. All or
nothing: any row error → nothing written, every error named by row and the file's column. A row
for a period already imported replaces it (a corrected payroll run is imported again)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, tuple_
from sqlalchemy.orm import Session

from services.koyo_hoken import intake
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import InsuredPerson, WageRecord
from services.koyo_hoken.rules.numbers import NumberFormatError, hihokensha_key
from services.koyo_hoken.schemas import ImportRowError
from shared.errors import ProblemError
from shared.permissions import Access

WAGES = cast(Table, WageRecord.__table__)


@dataclass
class WageImport:
    rows: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ImportRowError] = field(default_factory=list)


def _int(v: str, lo: int, hi: int) -> int:
    n = int(v)
    if not lo <= n <= hi:
        raise ValueError
    return n


def run(session: Session, ctx: KoyoContext, access: Access, text: str, mapping: intake.Mapping_) -> WageImport:
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    headers = [h.strip() for h in reader.fieldnames or ()]
    used = {h: mapping.columns[h] for h in headers if h in mapping.columns}
    header_of: dict[str, str] = {}
    for h, c in used.items():
        header_of.setdefault(c, h)
    if not set(used.values()) & {"employee_number", "hihokensha_bango", "insured_person_id"}:
        raise ProblemError(422, "validation", "CSVの見出し行が不正です",
                           f"従業員番号・被保険者番号のいずれかの列が必要です（マッピング {mapping.name}）",
                           errors=[{"field": "header.employee_number", "message": "必須の列がありません",
                                    "code": "missing"}])
    persons = session.execute(select(InsuredPerson.id, InsuredPerson.jigyosho_id, InsuredPerson.employee_number,
                                     InsuredPerson.hihokensha_key).where(
        InsuredPerson.tenant_id == access.tenant_id)).all()
    visible = [p for p in persons if access.allows_jigyosho(p.jigyosho_id)]
    by_emp: dict[str, list[Any]] = {}
    by_key: dict[str, list[Any]] = {}
    by_id = {p.id: p for p in visible}
    for p in visible:
        if p.employee_number:
            by_emp.setdefault(p.employee_number, []).append(p)
        if p.hihokensha_key:
            by_key.setdefault(p.hihokensha_key, []).append(p)

    out = WageImport()
    seen: dict[tuple[str, str, date], int] = {}
    now = ctx.clock.now()

    def col(c: str) -> str:
        return header_of.get(c, c)

    for raw in reader:
        out.rows += 1
        if out.rows > ctx.settings.import_max_rows:
            raise ProblemError(413, "payload-too-large", "CSVの行数が多すぎます",
                               f"{ctx.settings.import_max_rows}行まで取り込めます")
        line = reader.line_num
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        values: dict[str, str] = {}
        errs: list[ImportRowError] = []
        for h, c in used.items():
            v = row.get(h, "")
            if v == "" or values.get(c):
                continue
            try:
                values[c] = intake.normalize(c, v)
            except intake.ValueProblem as e:
                errs.append(ImportRowError(row=line, field=h, message=str(e)))
        if errs:
            out.errors += errs
            continue
        # The person.
        matches: list[Any] = []
        if values.get("employee_number"):
            matches = by_emp.get(values["employee_number"], [])
            who = "employee_number"
        elif values.get("hihokensha_bango"):
            try:
                matches = by_key.get(hihokensha_key(values["hihokensha_bango"]), [])
            except NumberFormatError as e:
                out.errors.append(ImportRowError(row=line, field=col("hihokensha_bango"), message=str(e)))
                continue
            who = "hihokensha_bango"
        elif values.get("insured_person_id"):
            matches = [by_id[values["insured_person_id"]]] if values["insured_person_id"] in by_id else []
            who = "insured_person_id"
        else:
            out.errors.append(ImportRowError(row=line, field=col("employee_number"), message="必須項目です"))
            continue
        if len(matches) != 1:
            out.errors.append(ImportRowError(row=line, field=col(who), message=(
                "該当する被保険者が見つかりません" if not matches else "該当する被保険者が複数います")))
            continue
        person = matches[0]
        kind = values.get("kind") or ("bonus" if values.get("bonus") and not values.get("wages_a") else "monthly")
        if kind not in ("monthly", "bonus"):
            out.errors.append(ImportRowError(row=line, field=col("kind"),
                                             message="給与 または 賞与 を指定してください"))
            continue
        rec: dict[str, Any] = {"id": str(uuid.uuid4()), "tenant_id": access.tenant_id,
                               "jigyosho_id": person.jigyosho_id, "insured_person_id": person.id, "kind": kind,
                               "hours": None, "basic_days": None, "wages_b": 0, "created_at": now}
        required = ("period_start", "period_end", "basic_days", "wages_a") if kind == "monthly" else ("paid_on",
                                                                                                     "bonus")
        missing = [c for c in required if not values.get(c)]
        if missing:
            out.errors += [ImportRowError(row=line, field=col(c), message="必須項目です") for c in missing]
            continue
        try:
            if kind == "monthly":
                rec["period_start"] = date.fromisoformat(values["period_start"])
                rec["period_end"] = date.fromisoformat(values["period_end"])
                rec["wages_a"] = _int(values["wages_a"], 0, 100_000_000)
            else:
                rec["period_start"] = rec["period_end"] = date.fromisoformat(values["paid_on"])
                rec["wages_a"] = _int(values["bonus"], 0, 100_000_000)
        except ValueError:
            out.errors.append(ImportRowError(row=line, field=col("wages_a" if kind == "monthly" else "bonus"),
                                             message="金額は0〜1億円の整数で入力してください"))
            continue
        if kind == "monthly":
            days_in = (rec["period_end"] - rec["period_start"]).days + 1
            if days_in < 1 or days_in > 31:
                out.errors.append(ImportRowError(row=line, field=col("period_end"),
                                                 message="賃金計算期間は開始日から31日以内の終了日にしてください"))
                continue
            try:
                rec["basic_days"] = _int(values["basic_days"], 0, days_in)
            except ValueError:
                out.errors.append(ImportRowError(row=line, field=col("basic_days"),
                                                 message="支払基礎日数は0から期間の日数までの整数で入力してください"))
                continue
            try:
                rec["wages_b"] = _int(values.get("wages_b") or "0", 0, 100_000_000)
            except ValueError:
                out.errors.append(ImportRowError(row=line, field=col("wages_b"),
                                                 message="金額は0〜1億円の整数で入力してください"))
                continue
            if values.get("hours"):
                try:
                    hours = Decimal(values["hours"])
                    if not Decimal(0) <= hours <= Decimal(744):
                        raise InvalidOperation
                    rec["hours"] = hours
                except InvalidOperation:
                    out.errors.append(ImportRowError(row=line, field=col("hours"),
                                                     message="労働時間は0〜744の数値です"))
                    continue
        key = (person.id, kind, rec["period_start"])
        if key in seen:
            out.errors.append(ImportRowError(row=line, field=col("period_start" if kind == "monthly" else "paid_on"),
                                             message=f"{seen[key]}行目と同じ人・同じ期間です"))
            continue
        seen[key] = line
        out.records.append(rec)
    if out.errors:
        return out
    keys = [(r["insured_person_id"], r["kind"], r["period_start"]) for r in out.records]
    for i in range(0, len(keys), 500):
        session.execute(delete(WageRecord).where(
            WageRecord.tenant_id == access.tenant_id,
            tuple_(WageRecord.insured_person_id, WageRecord.kind, WageRecord.period_start).in_(keys[i:i + 500])))
    for i in range(0, len(out.records), 1000):
        session.execute(insert(WAGES), out.records[i:i + 1000])
    return out
