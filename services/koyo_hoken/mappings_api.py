"""Payroll intake (issue 25): named column mappings per tenant, the wage history import, and the
離職証明書 wage table built from imported wages. Encodings and mappings: intake.py."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from services.koyo_hoken import csv_io, intake, repository, wage_io
from services.koyo_hoken.api import CanRead, CanWrite, Rt, ctx_of
from services.koyo_hoken.models import ImportMapping, WageRecord
from services.koyo_hoken.rules import rishoku
from services.koyo_hoken.schemas import CertificateOut, ImportRowError
from shared.auth_deps import TenantPrincipal
from shared.errors import ProblemError, not_found, problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("koyo_hoken"), tags=["koyo_hoken payroll intake"])
PROBLEMS = problem_responses(401, 403, 404, 409, 422)
MappingName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-぀-ヿ一-鿿]{1,50}$")]
PERSON_TARGETS = (*csv_io.IMPORT_COLUMNS, *intake.PERSON_SPECIAL)


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["persons", "wages"] = Field(description="persons: 被保険者の取込 / wages: 賃金の取込")
    columns: dict[str, str] = Field(min_length=1, max_length=200,
                                    description="{ファイルの見出し: Roumu の列名}"
                                                "（例 {\"社員コード\": \"employee_number\"}）")
    default_action: Literal["hire", "leave"] | None = Field(default=None,
                                                            description="persons: 区分の列がない行の扱い")

    @model_validator(mode="after")
    def _known(self) -> MappingIn:
        allowed = PERSON_TARGETS if self.target == "persons" else intake.WAGE_COLUMNS
        bad = sorted({v for v in self.columns.values() if v not in allowed})
        if bad:
            raise ValueError(f"Roumu にない列名です: {', '.join(bad)}")
        if any(not k.strip() or len(k) > 100 for k in self.columns):
            raise ValueError("見出しは1〜100文字で指定してください")
        return self


class MappingOut(BaseModel):
    name: str
    target: str
    columns: dict[str, str]
    default_action: str | None
    builtin: bool


def _out(m: intake.Mapping_) -> MappingOut:
    return MappingOut(name=m.name, target=m.target, columns=dict(m.columns), default_action=m.default_action,
                      builtin=m.builtin)


@router.get("/import-mappings", response_model=list[MappingOut], responses=PROBLEMS)
def list_mappings(access: CanRead, rt: Rt) -> list[MappingOut]:
    """The built-in mappings (roumu, ja, roumu-wages, ja-wages) and the tenant's own."""
    out = [_out(m) for n in intake.BUILTIN_NAMES if (m := intake.builtin(n, csv_io.IMPORT_COLUMNS))]
    with rt.db.sessions() as session:
        rows = session.execute(select(ImportMapping).where(ImportMapping.tenant_id == access.tenant_id)
                               .order_by(ImportMapping.name)).scalars().all()
        out += [MappingOut(name=r.name, target=r.target, columns=r.columns, default_action=r.default_action,
                           builtin=False) for r in rows]
    return out


@router.put("/import-mappings/{name}", response_model=MappingOut, responses=PROBLEMS)
def save_mapping(name: MappingName, body: MappingIn, access: CanWrite, rt: Rt) -> MappingOut:
    """Save (or replace) a named mapping of the tenant, for a payroll product's export layout."""
    if name in intake.BUILTIN_NAMES:
        raise ProblemError(409, "conflict", "組み込みのマッピングは変更できません", "別の名前で保存してください")
    now = ctx_of(rt).clock.now()
    with rt.transaction() as session:
        row = session.get(ImportMapping, (access.tenant_id, name))
        if row is None:
            row = ImportMapping(tenant_id=access.tenant_id, name=name, created_at=now)
            session.add(row)
        row.target, row.columns, row.default_action, row.updated_at = body.target, body.columns, \
            body.default_action, now
    return MappingOut(name=name, target=body.target, columns=body.columns, default_action=body.default_action,
                      builtin=False)


@router.delete("/import-mappings/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=PROBLEMS)
def delete_mapping(name: MappingName, access: CanWrite, rt: Rt) -> Response:
    with rt.transaction() as session:
        row = session.get(ImportMapping, (access.tenant_id, name))
        if row is None:
            raise not_found()
        session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class WageImportResult(BaseModel):
    rows: int
    imported: int
    encoding: str
    mapping: str
    errors: list[ImportRowError]


@router.post("/wage-records/import", response_model=WageImportResult,
             responses=problem_responses(401, 403, 413, 415, 422),
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_wages(request: Request, p: TenantPrincipal, access: CanWrite, rt: Rt,
                       mapping: Annotated[str, Query(max_length=50)] = "roumu-wages") -> WageImportResult:
    """Import wage histories (monthly wages with 支払基礎日数, bonuses) per person from a CSV in UTF-8
    or CP932 (detected), through a named mapping (`ja-wages` for Japanese headers). All or nothing:
    any row error → 422 with every error (row and the file's column), nothing written."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("text/csv", "application/octet-stream"):
        raise ProblemError(415, "unsupported-media-type", "対応していない形式です", "text/csv で送ってください")
    text, encoding = intake.decode(await request.body())
    ctx = ctx_of(rt)

    def work() -> WageImportResult:
        with rt.transaction() as session:
            m = csv_io.find_mapping(session, access.tenant_id, mapping, "wages")
            r = wage_io.run(session, ctx, access, text, m)
            result = WageImportResult(rows=r.rows, imported=0 if r.errors else len(r.records), encoding=encoding,
                                      mapping=m.name, errors=r.errors)
            if r.errors:  # wage_io wrote nothing; the raise ends the unit of work anyway
                raise ProblemError(422, "validation", "CSVに誤りがあります（何も取り込んでいません）",
                                   f"{len(r.errors)}件の誤り", extra={"result": result.model_dump(mode="json")},
                                   errors=[{"field": f"row{e.row}.{e.field}", "message": e.message,
                                            "code": "invalid"} for e in r.errors])
            return result

    return await anyio.to_thread.run_sync(work)


class WageRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    period_start: date
    period_end: date
    basic_days: int | None
    hours: float | None
    wages_a: int
    wages_b: int


@router.get("/insured-persons/{person_id}/wage-records", response_model=list[WageRecordOut], responses=PROBLEMS)
def person_wages(person_id: str, access: CanRead, rt: Rt) -> list[WageRecordOut]:
    """The person's imported wages, latest first."""
    with rt.db.sessions() as session:
        p = repository.insured_person_in_tenant(session, access.tenant_id, person_id)
        if p is None or not access.allows_jigyosho(p.jigyosho_id):
            raise not_found()
        rows = session.execute(select(WageRecord).where(
            WageRecord.tenant_id == access.tenant_id, WageRecord.insured_person_id == p.id)
            .order_by(WageRecord.period_start.desc(), WageRecord.kind)).scalars().all()
        return [WageRecordOut.model_validate(r) for r in rows]


@router.get("/insured-persons/{person_id}/rishoku-shomeisho", response_model=CertificateOut, responses=PROBLEMS)
def rishoku_from_wages(person_id: str, access: CanRead, rt: Rt, rishoku_date: Annotated[date, Query()],
                       closing_day: Annotated[int, Query(ge=1, le=31, description="賃金締切日（31 = 末日）")],
                       pay_type: Annotated[Literal["monthly_full", "other"], Query()] = "other",
                       tokutei: Annotated[bool, Query()] = False) -> CertificateOut:
    """The ⑧–⑫ rows of the person's 離職証明書 from the imported monthly wages (bonuses are not
    賃金 of the certificate: 3か月を超える期間ごとに支払われるもの) up to the 離職日, the ⑨ days of
    a slice taken from a wage period with the same dates (rules/rishoku.py)."""
    with rt.db.sessions() as session:
        p = repository.insured_person_in_tenant(session, access.tenant_id, person_id)
        if p is None or not access.allows_jigyosho(p.jigyosho_id):
            raise not_found()
        since = rishoku_date - timedelta(days=3 * 366)
        rows = session.execute(select(WageRecord).where(
            WageRecord.tenant_id == access.tenant_id, WageRecord.insured_person_id == p.id,
            WageRecord.kind == "monthly", WageRecord.period_end <= rishoku_date,
            WageRecord.period_start >= since)).scalars().all()
        hire_date = p.hire_date
    try:
        cert = rishoku.build(rishoku.Input(
            rishoku_date, hire_date, pay_type, closing_day,
            [rishoku.WagePeriod(r.period_start, r.period_end, r.basic_days or 0, r.wages_a, r.wages_b, None,
                                r.hours) for r in rows], (), tokutei))
    except rishoku.RishokuError as e:
        raise ProblemError(422, "validation", "賃金の記録から離職証明書を作れません", str(e),
                           errors=[{"field": "wage_records", "message": str(e), "code": "invalid"}]) from None
    return CertificateOut.model_validate(cert)

