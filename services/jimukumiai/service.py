"""Use cases of the jimukumiai service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.jimukumiai import events, repository
from services.jimukumiai.models import Association, Member, SpecialEnrolment, WageReport, jigyosho_directory, messaging
from services.jimukumiai.rules import size_limits, tokubetsu_kanyu
from services.jimukumiai.rules.nendo_koshin import ExcessUse
from services.jimukumiai.rules.rates import RateNotFound, rousai_type
from services.jimukumiai.schemas import (
    AssociationIn,
    ClientCreate,
    MemberCreate,
    MemberLeave,
    MemberUpdate,
    SpecialEnrolmentCreate,
    WageReportIn,
    WageSource,
    normalise_number,
)
from shared.clock import JST, Clock
from shared.errors import ProblemError
from shared.events import Actor

NUMBER_TAKEN = ProblemError(409, "labour-insurance-number-taken",
                            "この労働保険番号は既に委託事業主として登録されています")
CLIENT_NUMBER_TAKEN = ProblemError(409, "labour-insurance-number-taken",
                                   "この労働保険番号は既に登録されています (委託事業主または顧問先)")
IF_MATCH_REQUIRED = ProblemError(428, "precondition-required", "If-Match ヘッダーが必要です",
                                 "取得時の ETag を If-Match に指定してください")
STALE = ProblemError(412, "precondition-failed", "データが他の利用者によって更新されています")
ALREADY_LEFT = ProblemError(409, "member-left", "この委託事業主は既に委託を解除しています")


def today(clock: Clock) -> date:
    """The day in Japan: deadlines, retention and limits are Japanese calendar days."""
    return clock.now().astimezone(JST).date()


def expected_version(header: str | None) -> int:
    if header is None:
        raise IF_MATCH_REQUIRED
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise STALE
    return int(value)


def validation(field: str, message: str, code: str = "value_error") -> ProblemError:
    return ProblemError(422, "validation", "入力内容に誤りがあります",
                        errors=[{"field": field, "message": message, "code": code}])


def _check_size(workers: int, business: str, on: date) -> None:
    result = size_limits.check(workers, size_limits.MainBusiness(business), on)
    if not result.allowed:
        raise ProblemError(
            422, "size-limit-exceeded", "常時使用労働者数が事務組合に委託できる規模を超えています",
            f"主たる事業 {business} の上限は {result.limit} 人です (常時 {workers} 人)",
            extra={"limit": result.limit, "workers": workers})


def _check_rousai_code(code: str | None, on: date) -> None:
    if code is None:
        return
    try:
        rousai_type(code, on)
    except RateNotFound:
        raise validation("body.rousai_code", f"労災 事業の種類 {code} is not in the table in force") from None


def _apply_bank(member: Member, bank: Any) -> None:
    fields = ("bank_code", "bank_branch_code", "account_type", "account_number", "account_holder_kana")
    for f in fields:
        setattr(member, f, None if bank is None else str(getattr(bank, f)))


# --- members ----------------------------------------------------------------------------------

def entrust_member(session: Session, tenant_id: str, body: MemberCreate, actor: Actor, on: date) -> Member:
    """Register a 委託事業主, refused above the size limit of its main business (則62条2項), and for a
    事業所 the accounts master has not published to this tenant (404) or has closed (409)."""
    jigyosho_directory.require_open(session, tenant_id, body.jigyosho_id)
    _check_size(body.regular_workers, body.main_business, on)
    _check_rousai_code(body.rousai_code, on)
    if repository.member_by_number(session, tenant_id, body.labour_insurance_number):
        raise NUMBER_TAKEN
    member = Member(
        id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=body.jigyosho_id, name=body.name,
        labour_insurance_number=body.labour_insurance_number, entrusted_from=body.entrusted_from,
        status="active", created_at=datetime.now(UTC), entrusted_until=body.entrusted_until,
        entrusted_scope=[str(s) for s in body.entrusted_scope], regular_workers=body.regular_workers,
        insured_workers=body.insured_workers, main_business=str(body.main_business), rousai_code=body.rousai_code,
        koyo_kubun=str(body.koyo_kubun) if body.koyo_kubun else None, branch_number=body.branch_number,
        established_on=body.established_on, owner_address=body.owner_address, business_name=body.business_name,
        business_address=body.business_address, business_kind=body.business_kind,
    )
    _apply_bank(member, body.bank_account)
    session.add(member)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same number
        raise NUMBER_TAKEN from exc
    messaging.record(session, events.member_entrusted(member, actor))
    return member


def register_client(session: Session, tenant_id: str, body: ClientCreate, actor: Actor, on: date) -> Member:
    """Register a client employer of the 社労士 office (kind `client`, issue 25): no size limit
    (則62条2項 limits only who may entrust a 事務組合); the same 事業所 checks as a member, and one
    労働保険番号 once per tenant whatever its kind."""
    jigyosho_directory.require_open(session, tenant_id, body.jigyosho_id)
    _check_rousai_code(body.rousai_code, on)
    if repository.member_by_number(session, tenant_id, body.labour_insurance_number):
        raise CLIENT_NUMBER_TAKEN
    member = Member(
        id=str(uuid.uuid4()), tenant_id=tenant_id, jigyosho_id=body.jigyosho_id, name=body.name, kind="client",
        labour_insurance_number=body.labour_insurance_number, entrusted_from=body.client_from,
        status="active", created_at=datetime.now(UTC), entrusted_until=body.client_until, entrusted_scope=None,
        regular_workers=body.regular_workers, insured_workers=body.insured_workers, main_business=None,
        rousai_code=body.rousai_code, koyo_kubun=str(body.koyo_kubun) if body.koyo_kubun else None,
        branch_number=None, established_on=body.established_on, owner_address=body.owner_address,
        business_name=body.business_name, business_address=body.business_address, business_kind=body.business_kind,
    )
    session.add(member)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same number
        raise CLIENT_NUMBER_TAKEN from exc
    messaging.record(session, events.client_registered(member, actor))
    return member


def update_member(session: Session, member: Member, body: MemberUpdate, version: int, on: date) -> Member:
    if member.version != version:
        raise STALE
    changes = body.model_dump(exclude_unset=True, exclude={"over_limit_temporarily", "bank_account"})
    workers = changes.get("regular_workers", member.regular_workers)
    business = changes.get("main_business", member.main_business)
    if ("regular_workers" in changes or "main_business" in changes) and workers is not None and business:
        if not body.over_limit_temporarily:
            _check_size(workers, business, on)
    _check_rousai_code(changes.get("rousai_code"), on)
    if "rousai_code" in changes or "koyo_kubun" in changes:
        r = changes.get("rousai_code", member.rousai_code)
        k = changes.get("koyo_kubun", member.koyo_kubun)
        if r is None and k is None:
            raise validation("body", "rousai_code or koyo_kubun (or both) must remain")
    for key, value in changes.items():
        if key == "entrusted_scope" and value is not None:
            value = [str(s) for s in value]
        elif hasattr(value, "value"):
            value = str(value)
        setattr(member, key, value)
    if "bank_account" in body.model_fields_set:
        _apply_bank(member, body.bank_account)
    try:
        session.flush()
    except StaleDataError as exc:
        raise STALE from exc
    return member


def leave(session: Session, member: Member, body: MemberLeave, actor: Actor) -> Member:
    """委託解除: the member stays on the books (名簿 keeps it 3 years from the 解除)."""
    if member.status == "left":
        raise ALREADY_LEFT
    if body.entrusted_until < member.entrusted_from:
        raise validation("body.entrusted_until", "委託解除日 is before 委託開始日")
    member.entrusted_until = body.entrusted_until
    member.status = "left"
    session.flush()
    messaging.record(session, events.member_left(member, actor))
    return member


# --- the association --------------------------------------------------------------------------

def set_association(session: Session, tenant_id: str, body: AssociationIn, version: int | None) -> Association:
    row = session.get(Association, tenant_id)
    if row is None:
        row = Association(tenant_id=tenant_id, name=body.name, labour_insurance_number=body.labour_insurance_number,
                          address=body.address, updated_at=datetime.now(UTC))
        session.add(row)
    else:
        if version is None:
            raise IF_MATCH_REQUIRED
        if row.version != version:
            raise STALE
        row.name, row.labour_insurance_number, row.address = body.name, body.labour_insurance_number, body.address
        row.updated_at = datetime.now(UTC)
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as exc:
        raise STALE from exc
    return row


# --- 特別加入 ----------------------------------------------------------------------------------

def enrol_special(session: Session, member: Member, body: SpecialEnrolmentCreate, actor: Actor) -> SpecialEnrolment:
    if member.rousai_code is None:
        raise ProblemError(409, "no-rousai", "労災保険の適用がない事業主は特別加入できません")
    if member.kind != "entrusted":
        # 第1種特別加入 (中小事業主等) goes through a 労働保険事務組合 (労災保険法33条・34条).
        raise ProblemError(409, "not-entrusted", "事務組合に委託していない顧問先は特別加入できません",
                           "中小事業主等の特別加入には労働保険事務組合への委託が必要です")
    try:
        tokubetsu_kanyu.check_daily_amount(body.daily_amount, body.joined_on)
    except (tokubetsu_kanyu.InvalidDailyAmount, RateNotFound) as exc:
        raise validation("body.daily_amount", str(exc)) from None
    row = SpecialEnrolment(id=str(uuid.uuid4()), tenant_id=member.tenant_id, member_id=member.id,
                           person_name=body.person_name, role=str(body.role), daily_amount=body.daily_amount,
                           joined_on=body.joined_on, left_on=None, created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    messaging.record(session, events.special_enrolment_changed(member, row, "joined", actor))
    return row


def leave_special(session: Session, member: Member, row: SpecialEnrolment, left_on: date,
                  actor: Actor) -> SpecialEnrolment:
    if row.left_on is not None:
        raise ProblemError(409, "special-enrolment-ended", "この特別加入は既に脱退しています")
    if left_on <= row.joined_on:
        raise validation("body.left_on", "脱退日 must be after the 承認日")
    row.left_on = left_on
    session.flush()
    messaging.record(session, events.special_enrolment_changed(member, row, "left", actor))
    return row


# --- wages ------------------------------------------------------------------------------------

# A first report that lost to another created at the same moment: the answer a repeat gets
# (the report exists now, so replacing it needs its ETag), on PostgreSQL as on SQLite.
WAGES_CREATED_MEANWHILE = ProblemError(
    428, "precondition-required", "If-Match ヘッダーが必要です",
    "この年度の賃金は同時に他の操作で登録されました: 取得した ETag を If-Match に指定して更新してください")


def put_wages(session: Session, member: Member, fiscal_year: int, body: WageReportIn, version: int | None,
              create_only: bool = False) -> tuple[WageReport, bool]:
    """Enter a member's wages of one year, or replace them. True when created.

    Replacing needs the report's version (If-Match: 428 without, 412 when another write came
    first); creating needs none, or `create_only` (If-None-Match: *) to be refused with 412 when
    the report exists. Two first reports at once: one creates it, the other gets what a repeat
    gets — 428 (412 when it said If-None-Match) — from the unique constraint, never a 500."""
    row = repository.wage_report(session, member.tenant_id, member.id, fiscal_year, lock=True)
    if row is None:
        if version is not None:
            raise STALE  # If-Match names a version of a report that does not exist
        row = WageReport(id=str(uuid.uuid4()), tenant_id=member.tenant_id, member_id=member.id,
                         fiscal_year=fiscal_year)
        session.add(row)
        _fill_wages(row, body)
        try:
            session.flush()
        except IntegrityError as exc:
            raise (STALE if create_only else WAGES_CREATED_MEANWHILE) from exc
        return row, True
    if create_only:
        raise STALE
    if version is None:
        raise IF_MATCH_REQUIRED
    if row.version != version:
        raise STALE
    _fill_wages(row, body)
    try:
        session.flush()
    except StaleDataError as exc:
        raise STALE from exc
    return row, False


def _fill_wages(row: WageReport, body: WageReportIn) -> None:
    row.rousai_wages, row.koyo_wages, row.paid_estimate = body.rousai_wages, body.koyo_wages, body.paid_estimate
    row.estimated_rousai_wages, row.estimated_koyo_wages = body.estimated_rousai_wages, body.estimated_koyo_wages
    row.excess_use, row.installments_requested = str(body.excess_use), body.installments_requested
    row.source, row.updated_at = str(body.source), datetime.now(UTC)


def _import_one(session: Session, member: Member, fiscal_year: int, body: WageReportIn) -> None:
    """A CSV line: enters or replaces the year's wages without a precondition (the file is the
    office's whole list; the version still moves, so an editor's stale If-Match is refused)."""
    row = repository.wage_report(session, member.tenant_id, member.id, fiscal_year, lock=True)
    if row is None:
        row = WageReport(id=str(uuid.uuid4()), tenant_id=member.tenant_id, member_id=member.id,
                         fiscal_year=fiscal_year)
        session.add(row)
    _fill_wages(row, body)
    session.flush()


CSV_COLUMNS = ("labour_insurance_number", "fiscal_year", "rousai_wages", "koyo_wages", "paid_estimate",
               "estimated_rousai_wages", "estimated_koyo_wages", "excess_use")


def _int_or_none(v: str | None) -> int | None:
    v = (v or "").replace(",", "").strip()
    return int(v) if v else None


def import_wages(session: Session, tenant_id: str, text: str, granted: frozenset[str] | None
                 ) -> tuple[int, list[dict[str, Any]]]:
    """Wages by CSV (UTF-8, header row; columns CSV_COLUMNS, the last four optional). All rows or
    none: any error answers the list of errors and imports nothing."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS[:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise validation("body", f"CSV header lacks {', '.join(missing)}", "csv_header")
    errors: list[dict[str, Any]] = []
    rows: list[tuple[Member, int, WageReportIn]] = []
    for line, rec in enumerate(reader, start=2):
        number = str(normalise_number(rec.get("labour_insurance_number") or ""))
        member = repository.member_by_number(session, tenant_id, number)
        if member is None or (granted is not None and member.jigyosho_id not in granted):
            errors.append({"line": line, "message": "unknown 労働保険番号"})
            continue
        try:
            fy = int(rec["fiscal_year"])
            body = WageReportIn(
                rousai_wages=_int_or_none(rec.get("rousai_wages")) or 0,
                koyo_wages=_int_or_none(rec.get("koyo_wages")) or 0,
                paid_estimate=_int_or_none(rec.get("paid_estimate")),
                estimated_rousai_wages=_int_or_none(rec.get("estimated_rousai_wages")),
                estimated_koyo_wages=_int_or_none(rec.get("estimated_koyo_wages")),
                excess_use=ExcessUse((rec.get("excess_use") or "premium").strip()), source=WageSource.CSV)
        except (ValueError, KeyError) as exc:
            errors.append({"line": line, "message": str(exc).splitlines()[0][:200]})
            continue
        rows.append((member, fy, body))
    if errors:
        return 0, errors
    for member, fy, body in rows:
        _import_one(session, member, fy, body)
    return len(rows), []
