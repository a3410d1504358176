"""Routes of the jimukumiai service: parse, authorize, call a use case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from services.jimukumiai import repository, service
from services.jimukumiai.models import Association, Member
from services.jimukumiai.schemas import (
    REF_ID,
    AssociationIn,
    AssociationOut,
    ClientCreate,
    MemberCreate,
    MemberLeave,
    MemberOut,
    MemberPage,
    MemberUpdate,
    SpecialEnrolmentCreate,
    SpecialEnrolmentLeave,
    SpecialEnrolmentOut,
    WageImportOut,
    WageReportIn,
    WageReportOut,
)
from shared.auth_deps import TenantPrincipal, actor_of, require_menu
from shared.clock import SYSTEM_CLOCK, Clock
from shared.errors import not_found, problem_responses
from shared.permissions import JIMUKUMIAI, Access
from shared.service_app import Runtime, runtime
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("jimukumiai"), tags=["jimukumiai"])
Rt = Annotated[Runtime, Depends(runtime)]
CanRead = Annotated[Access, Depends(require_menu(JIMUKUMIAI, "read"))]
CanWrite = Annotated[Access, Depends(require_menu(JIMUKUMIAI, "write"))]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='取得時の ETag (例: "3")')]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match",
                                           description='"*": 新規登録のみ (既にあれば 412)')]

PROBLEMS = problem_responses(401, 403, 404, 409, 422)
EDIT_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)
# The first write creates without If-Match (428 only once it exists): the contract keeps it optional.
FIRST_WRITE: dict[str, Any] = {"x-roumu-if-match-optional": True}


def clock_of(rt: Rt) -> Clock:
    clock: Clock = rt.extras.get("clock", SYSTEM_CLOCK)
    return clock


Today = Annotated[Clock, Depends(clock_of)]


def scoped_member(session: Session, access: Access, member_id: str) -> Member:
    # Scoped by tenant and 事業所 grant: an id outside them is indistinguishable from a missing one.
    member = repository.member_in_tenant(session, access.tenant_id, member_id)
    if member is None or not access.allows_jigyosho(member.jigyosho_id):
        raise not_found()
    return member


def member_out(session: Session, member: Member, clock: Clock) -> MemberOut:
    out = MemberOut.model_validate(member)
    out.special_enrolment = member.id in repository.special_enrolled(session, member.tenant_id, [member.id],
                                                                      service.today(clock))
    return out


@router.post("/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut, responses=PROBLEMS)
def entrust_member(body: MemberCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                   response: Response, clock: Today) -> MemberOut:
    """Register a 委託事業主 (an employer entrusting its labour insurance affairs to the 事務組合).
    Refused (422 `size-limit-exceeded`) above the size limit of its main business: 50 for 金融・保険・
    不動産・小売, 100 for 卸売・サービス, 300 otherwise (則62条2項). The 事業所 must be one the accounts
    master published to this tenant (404 otherwise, also right after its creation until the event
    arrives) and not closed (409 `jigyosho-closed`)."""
    access.check_jigyosho(body.jigyosho_id)
    with rt.transaction() as session:
        member = service.entrust_member(session, access.tenant_id, body, actor_of(p, request), service.today(clock))
        out = member_out(session, member, clock)
    response.headers["Location"] = f"{router.prefix}/members/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.post("/clients", status_code=status.HTTP_201_CREATED, response_model=MemberOut, responses=PROBLEMS)
def register_client(body: ClientCreate, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
                    response: Response, clock: Today) -> MemberOut:
    """Register a client employer of the 社労士 office outside the 事務組合 (`kind` client): its
    wages, 年度更新 (the office's run, POST /client-renewal-runs), ledger and renewals are under
    /members/{id}/… like a member's; it is in no book of the association and in no run of it. No
    size limit applies. The 事業所 must be one the accounts master published to this tenant (404)
    and not closed (409); a 労働保険番号 registered already (either kind) is 409."""
    access.check_jigyosho(body.jigyosho_id)
    with rt.transaction() as session:
        member = service.register_client(session, access.tenant_id, body, actor_of(p, request),
                                         service.today(clock))
        out = member_out(session, member, clock)
    response.headers["Location"] = f"{router.prefix}/members/{out.id}"
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/clients", response_model=MemberPage, responses=PROBLEMS)
def list_clients(
    access: CanRead, rt: Rt, clock: Today,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> MemberPage:
    """The office's client employers (kind client) of the 事業所 granted to the caller."""
    return _page(access, rt, clock, jigyosho_id, limit, offset, "client")


@router.get("/members", response_model=MemberPage, responses=PROBLEMS)
def list_members(
    access: CanRead, rt: Rt, clock: Today,
    jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> MemberPage:
    """委託事業主 of the 事業所 granted to the caller (one of them with `jigyosho_id`); the office's
    clients are listed by GET /clients."""
    return _page(access, rt, clock, jigyosho_id, limit, offset, "entrusted")


def _page(access: Access, rt: Runtime, clock: Clock, jigyosho_id: str | None, limit: int, offset: int,
          kind: str) -> MemberPage:
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        rows, total = repository.members_in_tenant(session, access.tenant_id, jigyosho_id, access.jigyosho_ids,
                                                   limit, offset, kind)
        enrolled = repository.special_enrolled(session, access.tenant_id, [r.id for r in rows],
                                               service.today(clock))
        items = [MemberOut.model_validate(r) for r in rows]
        for item in items:
            item.special_enrolment = item.id in enrolled
        return MemberPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/members/{member_id}", response_model=MemberOut, responses=PROBLEMS)
def get_member(member_id: str, access: CanRead, rt: Rt, response: Response, clock: Today) -> MemberOut:
    with rt.db.sessions() as session:
        member = scoped_member(session, access, member_id)
        response.headers["ETag"] = f'"{member.version}"'
        return member_out(session, member, clock)


@router.patch("/members/{member_id}", response_model=MemberOut, responses=EDIT_PROBLEMS)
def update_member(member_id: str, body: MemberUpdate, access: CanWrite, rt: Rt, response: Response,
                  clock: Today, if_match: IfMatch = None) -> MemberOut:
    """Change some fields (If-Match). A worker count above the size limit is refused unless
    `over_limit_temporarily` says the excess is temporary."""
    version = service.expected_version(if_match)
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        service.update_member(session, member, body, version, service.today(clock))
        out = member_out(session, member, clock)
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.post("/members/{member_id}/leave", response_model=MemberOut, responses=PROBLEMS)
def leave(member_id: str, body: MemberLeave, p: TenantPrincipal, access: CanWrite, request: Request, rt: Rt,
          response: Response, clock: Today) -> MemberOut:
    """委託解除: the member leaves the association on `entrusted_until`."""
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        service.leave(session, member, body, actor_of(p, request))
        out = member_out(session, member, clock)
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/association", response_model=AssociationOut, responses=PROBLEMS)
def get_association(access: CanRead, rt: Rt, response: Response) -> AssociationOut:
    """The 事務組合 itself: its name and own 労働保険番号."""
    with rt.db.sessions() as session:
        row = session.get(Association, access.tenant_id)
        if row is None:
            raise not_found()
        response.headers["ETag"] = f'"{row.version}"'
        return AssociationOut.model_validate(row)


@router.put("/association", response_model=AssociationOut, responses=EDIT_PROBLEMS, openapi_extra=FIRST_WRITE)
def put_association(body: AssociationIn, access: CanWrite, rt: Rt, response: Response,
                    if_match: IfMatch = None) -> AssociationOut:
    """Set the 事務組合's own name and 労働保険番号 (If-Match once it exists)."""
    version = service.expected_version(if_match) if if_match is not None else None
    with rt.transaction() as session:
        row = service.set_association(session, access.tenant_id, body, version)
        out = AssociationOut.model_validate(row)
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/members/{member_id}/special-enrolments", response_model=list[SpecialEnrolmentOut],
            responses=PROBLEMS)
def list_special(member_id: str, access: CanRead, rt: Rt) -> list[SpecialEnrolmentOut]:
    """The member's 第1種特別加入者, each span at one 給付基礎日額."""
    with rt.db.sessions() as session:
        member = scoped_member(session, access, member_id)
        return [SpecialEnrolmentOut.model_validate(r)
                for r in repository.special_enrolments(session, access.tenant_id, member.id)]


@router.post("/members/{member_id}/special-enrolments", status_code=status.HTTP_201_CREATED,
             response_model=SpecialEnrolmentOut, responses=PROBLEMS)
def enrol_special(member_id: str, body: SpecialEnrolmentCreate, p: TenantPrincipal, access: CanWrite,
                  request: Request, rt: Rt) -> SpecialEnrolmentOut:
    """A 中小事業主, 役員 or 家族従事者 joins 特別加入 (第1種) from `joined_on` at a 給付基礎日額 of
    the 16 levels. A change of 日額 is a leave and a new enrolment from the day it applies."""
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        row = service.enrol_special(session, member, body, actor_of(p, request))
        return SpecialEnrolmentOut.model_validate(row)


@router.post("/members/{member_id}/special-enrolments/{enrolment_id}/leave", response_model=SpecialEnrolmentOut,
             responses=PROBLEMS)
def leave_special(member_id: str, enrolment_id: str, body: SpecialEnrolmentLeave, p: TenantPrincipal,
                  access: CanWrite, request: Request, rt: Rt) -> SpecialEnrolmentOut:
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        row = next((r for r in repository.special_enrolments(session, access.tenant_id, member.id)
                    if r.id == enrolment_id), None)
        if row is None:
            raise not_found()
        service.leave_special(session, member, row, body.left_on, actor_of(p, request))
        return SpecialEnrolmentOut.model_validate(row)


@router.put("/members/{member_id}/wages/{fiscal_year}", response_model=WageReportOut, responses=EDIT_PROBLEMS,
            openapi_extra=FIRST_WRITE)
def put_wages(member_id: str, fiscal_year: Annotated[int, Path(ge=2000, le=2100)], body: WageReportIn,
              access: CanWrite, rt: Rt, response: Response, if_match: IfMatch = None,
              if_none_match: IfNoneMatch = None) -> WageReportOut:
    """The member's 賃金総額 of one fiscal year (the 確定 year: wages paid 4/1–3/31), as paid;
    rounding to thousands happens in the renewal. The first report of a year needs no header
    (or `If-None-Match: *`, refused with 412 when one exists) and answers 201; replacing one needs
    its ETag in If-Match (428 without, 412 when it changed meanwhile). Two first reports at once:
    one is created, the other answers as a repeat would (428, or 412 with If-None-Match)."""
    version = service.expected_version(if_match) if if_match is not None else None
    if if_none_match is not None and if_none_match.strip() != "*":
        raise service.validation("header.If-None-Match", 'only "*" is understood here')
    with rt.transaction() as session:
        member = scoped_member(session, access, member_id)
        row, created = service.put_wages(session, member, fiscal_year, body, version,
                                         create_only=if_none_match is not None)
        out = WageReportOut.model_validate(row)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/members/{member_id}/wages/{fiscal_year}", response_model=WageReportOut, responses=PROBLEMS)
def get_wages(member_id: str, fiscal_year: Annotated[int, Path(ge=2000, le=2100)], access: CanRead,
              rt: Rt, response: Response) -> WageReportOut:
    with rt.db.sessions() as session:
        member = scoped_member(session, access, member_id)
        row = repository.wage_report(session, access.tenant_id, member.id, fiscal_year)
        if row is None:
            raise not_found()
        response.headers["ETag"] = f'"{row.version}"'
        return WageReportOut.model_validate(row)


@router.post("/wages/import", response_model=WageImportOut, responses=PROBLEMS)
def import_wages(access: CanWrite, rt: Rt,
                 body: Annotated[str, Body(media_type="text/csv", max_length=5_000_000)]) -> WageImportOut:
    """Wages by CSV (UTF-8, header `labour_insurance_number,fiscal_year,rousai_wages,koyo_wages` and
    optionally `paid_estimate,estimated_rousai_wages,estimated_koyo_wages,excess_use`). All rows or
    none: with any error nothing is imported and the errors are listed by line."""
    with rt.transaction() as session:
        imported, errors = service.import_wages(session, access.tenant_id, body, access.jigyosho_ids)
        if errors:
            session.rollback()
        return WageImportOut(imported=imported, errors=errors)
