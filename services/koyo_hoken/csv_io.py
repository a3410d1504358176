"""CSV import of hires and leavers, and CSV export of insured persons.

Import columns (header row required, UTF-8 with or without BOM): ``IMPORT_COLUMNS``.
`action` is `hire` or `leave`; `jigyosho_id` always. A hire needs the person's required fields
(names, kana, birth_date, hire_date, weekly_hours) and may carry every optional one and
`my_number`; a leave needs `hihokensha_bango` (who is leaving), `leave_date` and `soshitsu_cause`,
optionally `with_rishoku_shomeisho` (1/0) and `rishoku_reason_code` (docs/koyo_hoken.md).

A hire registers an insured person; a leave creates a draft 資格喪失届 (with 離職証明書 when asked,
and refused for a leaver of 59 or more without it). Modes: `all_or_nothing` (default: any row error →
nothing imported, every error reported) and `partial` (valid rows imported, the others reported).
Errors name the row and the column, never the value (it may be a My Number). A row's 事業所 must be
known to the 事業所 master (shared.jigyosho_directory) and, for a hire, not closed: otherwise a row
error, like an unknown person."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from services.koyo_hoken import events, intake, rejudge, repository, service
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import (
    EligibilityDecision,
    ImportMapping,
    InsuredPerson,
    jigyosho_directory,
    messaging,
)
from services.koyo_hoken.rules import rishoku
from services.koyo_hoken.rules.numbers import NumberFormatError, formatted_hihokensha_key, hihokensha_key
from services.koyo_hoken.schemas import ImportRowError, InsuredPersonCreate, ProcedureCreate, ProcedureDetails
from shared.errors import ProblemError
from shared.events import Actor
from shared.permissions import Access

Mode = Literal["all_or_nothing", "partial"]
PERSONS = cast(Table, InsuredPerson.__table__)
DECISIONS = cast(Table, EligibilityDecision.__table__)
WRITE_CHUNK = 1000
BOOLS = {"1": True, "true": True, "yes": True, "有": True, "0": False, "false": False, "no": False, "無": False,
         "": None}
PERSON_COLUMNS = ("jigyosho_id", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date",
                  "hire_date", "weekly_hours", "gender", "nationality", "romaji_name", "residence_status",
                  "residence_card_number", "residence_period_end", "outside_status_permission",
                  "dispatch_or_contract_work", "hihokensha_bango", "contract_end", "renewal_clause",
                  "employment_type", "wage_payment", "monthly_wage", "job_type", "student")
BOOL_COLUMNS = {"outside_status_permission", "dispatch_or_contract_work", "renewal_clause"}
LEAVE_COLUMNS = ("leave_date", "soshitsu_cause", "with_rishoku_shomeisho", "rishoku_reason_code")
IMPORT_COLUMNS = ("action", *PERSON_COLUMNS, "employee_number", "my_number", *LEAVE_COLUMNS)
ROUMU = intake.Mapping_("roumu", "persons", {c: c for c in IMPORT_COLUMNS})
EXPORT_COLUMNS = ("id", *PERSON_COLUMNS, "status", "leave_date", "my_number_registered", "my_number_masked",
                  "version")


def _err(line: int, field: str, message: str) -> ImportRowError:
    return ImportRowError(row=line, field=field, message=message)


def _header_problem(detail: str, fields: list[str], message: str, code: str) -> ProblemError:
    return ProblemError(422, "validation", "CSVの見出し行が不正です", detail,
                        errors=[{"field": f"header.{f}", "message": message, "code": code} for f in fields])


@dataclass
class Parsed:
    # (line, person, the number's key): each 被保険者番号 is parsed once, by validation.
    hires: list[tuple[int, InsuredPersonCreate, str | None]] = field(default_factory=list)
    leaves: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[ImportRowError] = field(default_factory=list)
    rows: int = 0


Resolve = Callable[[str, str], tuple[str | None, str | None]]  # (number, name) → (jigyosho_id, error)


def _no_resolve(number: str, name: str) -> tuple[str | None, str | None]:
    return None, "事業所を特定できません"


@dataclass
class Reader:
    """The file's rows in Roumu columns, through a mapping (intake.py); `header_of` names the file's
    column for each Roumu column, so errors point at the column the user sees."""

    mapping: intake.Mapping_
    header_of: dict[str, str] = field(default_factory=dict)


def _rows(text: str, reader: Reader, resolve: Resolve) -> Iterator[tuple[int, dict[str, str], list[ImportRowError]]]:
    m = reader.mapping
    csv_reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    headers = [h.strip() for h in csv_reader.fieldnames or ()]
    if m.name == "roumu":
        missing = {"action", "jigyosho_id"} - set(headers)
        if missing:
            raise _header_problem(f"必須の列がありません: {', '.join(sorted(missing))}", sorted(missing),
                                  "必須の列がありません", "missing")
        unknown = set(headers) - set(IMPORT_COLUMNS)
        if unknown:
            raise _header_problem(f"不明な列があります: {', '.join(sorted(unknown))}", sorted(unknown),
                                  "不明な列です", "unknown")
    used = {h: m.columns[h] for h in headers if h in m.columns}  # other columns of a payroll export: ignored
    targets = set(used.values())
    need = [] if "action" in targets or m.default_action else ["action"]
    if not targets & {"jigyosho_id", "jigyosho_number", "jigyosho_name"}:
        need.append("jigyosho_id")
    if need:
        raise _header_problem(f"必須の列がありません（マッピング {m.name}）: {', '.join(need)}", need,
                              "必須の列がありません", "missing")
    header_of = reader.header_of
    for h, col in used.items():
        header_of.setdefault(col, h)
    for special, cols in (("name", ("family_name", "given_name")),
                          ("name_kana", ("family_name_kana", "given_name_kana")),
                          ("jigyosho_number", ("jigyosho_id",)), ("jigyosho_name", ("jigyosho_id",))):
        if special in header_of:
            for c in cols:
                header_of.setdefault(c, header_of[special])
    identity = m.name == "roumu"
    for raw in csv_reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        line = csv_reader.line_num
        if identity:
            yield line, row, []
            continue
        out: dict[str, str] = {}
        errs: list[ImportRowError] = []
        for h, col in used.items():
            value = row.get(h, "")
            if value == "" or out.get(col):
                continue
            try:
                out[col] = intake.normalize(col, value)
            except intake.ValueProblem as e:
                errs.append(_err(line, h, str(e)))
        for special, (a, b) in (("name", ("family_name", "given_name")),
                                ("name_kana", ("family_name_kana", "given_name_kana"))):
            if special in out:
                try:
                    first, second = intake.split_name(out.pop(special))
                    out.setdefault(a, first)
                    out.setdefault(b, second)
                except intake.ValueProblem as e:
                    errs.append(_err(line, header_of[special], str(e)))
        if not out.get("action") and m.default_action:
            out["action"] = m.default_action
        number, name = out.pop("jigyosho_number", ""), out.pop("jigyosho_name", "")
        if not out.get("jigyosho_id") and (number or name):
            jid, why = resolve(number, name)
            if jid is None:
                errs.append(_err(line, header_of.get("jigyosho_number" if number else "jigyosho_name",
                                                     "jigyosho_id"), why or "事業所が見つかりません"))
            else:
                out["jigyosho_id"] = jid
        yield line, out, errs


def _pyd_errors(line: int, exc: ValidationError, header_of: dict[str, str] | None = None) -> list[ImportRowError]:
    names = header_of or {}
    out = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "row"
        out.append(ImportRowError(row=line, field=names.get(loc, loc),
                                  message=intake.pydantic_message(str(e["type"]), str(e["msg"]))))
    return out


def parse(text: str, max_rows: int, reader: Reader | None = None, resolve: Resolve = _no_resolve) -> Parsed:
    reader = reader or Reader(ROUMU)
    out = Parsed()
    seen_numbers: dict[str, int] = {}
    names = reader.header_of

    def header(c: str) -> str:
        return names.get(c, c)

    for line, row, row_errors in _rows(text, reader, resolve):
        out.rows += 1
        if out.rows > max_rows:
            raise ProblemError(413, "payload-too-large", "CSVの行数が多すぎます", f"{max_rows}行まで取り込めます")
        if row_errors:
            out.errors += row_errors
            continue
        action = row.get("action", "")
        if action == "hire":
            data: dict[str, Any] = {}
            for col in (*PERSON_COLUMNS, "employee_number", "my_number"):
                value = row.get(col, "")
                if value == "":
                    continue
                data[col] = BOOLS.get(value.lower(), value) if col in BOOL_COLUMNS else value
            try:
                person = InsuredPersonCreate.model_validate(data)
            except ValidationError as exc:
                out.errors += _pyd_errors(line, exc, names)
                continue
            key = None
            if person.hihokensha_bango:
                # A legacy 4-6 and its 4-6-1 are one number; validation parsed it already.
                key = formatted_hihokensha_key(person.hihokensha_bango)
                if key in seen_numbers:
                    out.errors.append(ImportRowError(row=line, field=header("hihokensha_bango"),
                                                     message=f"{seen_numbers[key]}行目と同じ被保険者番号です"))
                    continue
                seen_numbers[key] = line
            out.hires.append((line, person, key))
        elif action == "leave":
            errs = [_err(line, header(c), "必須項目です")
                    for c in ("jigyosho_id", "hihokensha_bango", "leave_date", "soshitsu_cause") if not row.get(c)]
            try:
                leave_date = date.fromisoformat(row["leave_date"]) if row.get("leave_date") else None
            except ValueError:
                errs.append(_err(line, header("leave_date"), "日付は YYYY-MM-DD で入力してください"))
                leave_date = None
            with_cert = BOOLS.get(row.get("with_rishoku_shomeisho", "").lower(), "bad")
            if with_cert == "bad":
                errs.append(_err(line, header("with_rishoku_shomeisho"), "1 または 0 で入力してください"))
            try:
                details = ProcedureDetails(cause=row.get("soshitsu_cause") or None,
                                           rishoku_reason_code=row.get("rishoku_reason_code") or None)
            except ValidationError as exc:
                errs += _pyd_errors(line, exc, names)
                details = ProcedureDetails()
            if errs:
                out.errors += errs
                continue
            out.leaves.append((line, {"jigyosho_id": row["jigyosho_id"], "number": row["hihokensha_bango"],
                                      "leave_date": leave_date, "with_cert": bool(with_cert), "details": details}))
        else:
            out.errors.append(_err(line, header("action"),
                                   "hire または leave（取得・入社 / 喪失・退職）を指定してください"))
    return out


def jigyosho_resolver(session: Session, tenant_id: str, access: Access) -> Resolve:
    """Find a 事業所 of the tenant (and of the caller's grant) by 事業所番号 (digits compared) or by
    exact name (NFKC); more than one match is a row error, not a guess."""
    table = jigyosho_directory.table
    rows = session.execute(select(table.c.jigyosho_id, table.c.name, table.c.employment_insurance_office_number)
                           .where(table.c.tenant_id == tenant_id)).all()
    by_number: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for r in rows:
        if not access.allows_jigyosho(r.jigyosho_id):
            continue
        if r.employment_insurance_office_number:
            by_number.setdefault(re.sub(r"\D", "", r.employment_insurance_office_number), []).append(r.jigyosho_id)
        by_name.setdefault(intake.nfkc(r.name), []).append(r.jigyosho_id)

    def resolve(number: str, name: str) -> tuple[str | None, str | None]:
        if number:
            found = by_number.get(re.sub(r"\D", "", intake.nfkc(number)), [])
        else:
            found = by_name.get(intake.nfkc(name), [])
        if len(found) == 1:
            return found[0], None
        if len(found) > 1:
            return None, "該当する事業所が複数あります（事業所IDで指定してください）"
        return None, "事業所が見つかりません"

    return resolve


def run_import(session: Session, ctx: KoyoContext, access: Access, text: str, mode: Mode,
               actor: Actor, mapping: intake.Mapping_ | None = None) -> tuple[int, int, list[ImportRowError], int]:
    """Validate everything first; in all_or_nothing mode write nothing when any row fails."""
    reader = Reader(mapping or ROUMU)
    parsed = parse(text, ctx.settings.import_max_rows, reader, jigyosho_resolver(session, access.tenant_id, access))
    errors = list(parsed.errors)
    names = reader.header_of
    refusals: dict[tuple[str, bool], str | None] = {}

    def refusal(jigyosho_id: str, closed_ok: bool = False) -> str | None:
        """The row error for a 事業所 unknown to the master (or not yet arrived) or closed."""
        if (jigyosho_id, closed_ok) not in refusals:
            problem = service.jigyosho_refusal(session, access.tenant_id, jigyosho_id, closed_ok=closed_ok)
            refusals[jigyosho_id, closed_ok] = (None if problem is None else
                                                "廃止された事業所です" if problem.status == 409 else
                                                "事業所が見つかりません（登録直後の場合は反映を待ってください）")
        return refusals[jigyosho_id, closed_ok]

    hires = []
    for line, person, key in parsed.hires:
        if not access.allows_jigyosho(person.jigyosho_id):
            # Indistinguishable from a 事業所 that does not exist, as over HTTP.
            errors.append(_err(line, names.get("jigyosho_id", "jigyosho_id"), "事業所が見つかりません"))
        elif (why := refusal(person.jigyosho_id)) is not None:
            errors.append(_err(line, names.get("jigyosho_id", "jigyosho_id"), why))
        else:
            hires.append((line, person, key))
    # A number held by a person the caller may see is a row error; one held only where the caller
    # may not see is registered unclaimed, as over POST (service.claim_number): no row tells.
    held: dict[str, list[InsuredPerson]] = {}
    for h in repository.persons_by_number_keys(session, access.tenant_id, {k for _, _, k in hires if k}):
        held.setdefault(h.hihokensha_key or "", []).append(h)
    # Column values, not InsuredPerson objects: inserted below with one Core executemany.
    persons: list[dict[str, Any]] = []
    for line, hire, key in hires:
        new = service.new_person_values(ctx, access.tenant_id, hire)
        if key is not None:
            try:
                new["hihokensha_claim"] = service.claim_for(new["id"], key, held.get(key, []),
                                                            access.allows_jigyosho)
            except ProblemError as exc:
                errors.append(_err(line, names.get("hihokensha_bango", "hihokensha_bango"), exc.title))
                continue
            new["hihokensha_key"] = key
        persons.append(new)
    hires = parsed.hires = []  # the validated rows are in `persons` now: let them go
    leavers: dict[str, list[InsuredPerson]] = {}
    for h in repository.persons_by_number_keys(session, access.tenant_id,
                                               {k for _, leave in parsed.leaves if (k := _key(leave["number"]))}):
        leavers.setdefault(h.hihokensha_key or "", []).append(h)
    ok_leaves: list[tuple[InsuredPerson, dict[str, Any]]] = []
    for line, leave in parsed.leaves:
        p = next((c for c in leavers.get(_key(leave["number"]) or "", [])
                  if c.jigyosho_id == leave["jigyosho_id"] and access.allows_jigyosho(c.jigyosho_id)), None)
        if p is None:
            errors.append(_err(line, "hihokensha_bango", "該当する被保険者が見つかりません"))
            continue
        if (why := refusal(p.jigyosho_id, closed_ok=True)) is not None:  # a 喪失届 is due after a 廃止
            errors.append(_err(line, "jigyosho_id", why))
            continue
        if not leave["with_cert"] and rishoku.required(p.birth_date, leave["leave_date"]):
            errors.append(ImportRowError(row=line, field="with_rishoku_shomeisho",
                                         message="離職日に59歳以上の方には離職証明書が必要です"))
            continue
        if leave["leave_date"] < p.hire_date:
            errors.append(_err(line, "leave_date", "離職日が雇用開始日より前です"))
            continue
        ok_leaves.append((p, leave))
    errors.sort(key=lambda e: e.row)
    if errors and mode == "all_or_nothing":
        return parsed.rows, 0, errors, 0
    # In chunks, so that only one chunk's events and outbox rows are alive at a time: fewer live
    # objects for the garbage collector to walk (a quarter of the import's time when all were).
    # A concurrent holder of a number makes an insert fail on the unique claim index (IntegrityError),
    # as the ORM flush did: api.retry_on_conflict runs the import again.
    for start in range(0, len(persons), WRITE_CHUNK):
        chunk = persons[start:start + WRITE_CHUNK]
        session.execute(insert(PERSONS), chunk)
        session.execute(insert(DECISIONS), [rejudge.decision_row(ctx, new) for new in chunk])  # issue 25
        messaging.record_many(session, [events.insured_person_registered_row(new, actor) for new in chunk])
    created = 0
    for p, leave in ok_leaves:
        body = ProcedureCreate(insured_person_id=p.id, kind="shikaku_soshitsu", event_date=leave["leave_date"],
                               with_rishoku_shomeisho=leave["with_cert"], details=leave["details"])
        try:
            with session.begin_nested():
                service.create_procedure(session, ctx, access, body, actor)
            created += 1
        except ProblemError as exc:
            if mode == "all_or_nothing":
                raise
            errors.append(ImportRowError(row=0, field="hihokensha_bango", message=exc.title))
    return parsed.rows, len(persons), errors, created


def _key(text: str) -> str | None:
    try:
        return hihokensha_key(text)
    except NumberFormatError:
        return None


def find_mapping(session: Session, tenant_id: str, name: str, target: str) -> intake.Mapping_:
    m = intake.builtin(name, IMPORT_COLUMNS)
    if m is None:
        row = session.get(ImportMapping, (tenant_id, name))
        if row is not None:
            m = intake.Mapping_(row.name, "wages" if row.target == "wages" else "persons", row.columns,
                                row.default_action, builtin=False)
    if m is None or m.target != target:
        raise ProblemError(422, "validation", "取込の列マッピングが見つかりません",
                           f"マッピング「{name}」はありません（{target} 用）",
                           errors=[{"field": "query.mapping", "message": "マッピングが見つかりません",
                                    "code": "invalid"}])
    return m


def export(ctx: KoyoContext, persons: list[InsuredPerson]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(EXPORT_COLUMNS)
    for p in persons:
        out = service.person_out(ctx, p)
        values = out.model_dump(mode="json")
        w.writerow(["" if values.get(c) is None else _cell(values[c]) for c in EXPORT_COLUMNS])
    return "\ufeff" + buf.getvalue()


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    s = str(v)
    # CSV injection: a cell starting with =, +, - or @ is read as a formula by spreadsheets.
    return "'" + s if s[:1] in ("=", "+", "-", "@") and not s[1:2].isdigit() else s
