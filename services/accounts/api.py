"""Routes of the accounts service: parse, authorize, call a use case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import FileResponse, PlainTextResponse

from services.accounts import certificate, exports, mail, repository, service
from services.accounts.events import PURGING_SERVICES
from services.accounts.models import (
    ContractTermination,
    Jigyosho,
    PurgeConfirmation,
    Tenant,
    User,
    messaging,
    permissions,
)
from services.accounts.rules.grants import Caller
from services.accounts.rules.numbers import parse_labour_insurance_number
from services.accounts.schemas import (
    Contact,
    EffectivePermissions,
    Grants,
    JigyoshoClose,
    JigyoshoGrant,
    JigyoshoIn,
    JigyoshoOut,
    JigyoshoPage,
    JobRun,
    LabourInsuranceNumberOut,
    MailDeliveryOut,
    MailDeliveryPage,
    NoticeCreate,
    NoticeOut,
    NoticePage,
    Republished,
    RepublishGrants,
    SignedCertificate,
    SignedExport,
    TenantCreate,
    TenantExportOut,
    TenantExportSign,
    TenantGatewayView,
    TenantOpen,
    TenantOut,
    TenantSettings,
    TenantSettingsOut,
    TenantUpdate,
    TerminationOut,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from services.accounts.settings import AccountsSettings
from shared.auth_deps import CurrentPrincipal, OperatorPrincipal, TenantPrincipal, actor_of, require_menu
from shared.clock import Clock
from shared.errors import ProblemError, forbidden, not_found, problem_responses
from shared.keys import certificate_jwks
from shared.permissions import JIGYOSHO_ADMIN, MENUS, TENANT_ADMIN, USER_ADMIN, Access, decide
from shared.service_app import Runtime, runtime
from shared.tokens import Principal
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("accounts"), tags=["accounts"])
operations = APIRouter(prefix=api_prefix("accounts") + "/operations", tags=["accounts-operations"])
Rt = Annotated[Runtime, Depends(runtime)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='取得時の ETag (例: "3")')]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
UsersRead = Annotated[Access, Depends(require_menu(USER_ADMIN, "read"))]
UsersWrite = Annotated[Access, Depends(require_menu(USER_ADMIN, "write"))]
JigyoshoRead = Annotated[Access, Depends(require_menu(JIGYOSHO_ADMIN, "read"))]
JigyoshoWrite = Annotated[Access, Depends(require_menu(JIGYOSHO_ADMIN, "write"))]

PROBLEMS = problem_responses(401, 403, 404, 409, 422)
EDIT_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _clock(rt: Runtime) -> Clock:
    clock: Clock = rt.extras["clock"]
    return clock


# --- tenants ----------------------------------------------------------------------------------

@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=TenantOut, responses=PROBLEMS)
def create_tenant(body: TenantOpen | TenantCreate, p: OperatorPrincipal, request: Request, rt: Rt,
                  response: Response) -> TenantOut:
    """Open a tenant (one contract) with its first administrator (`admin`). System operators only.

    Without `admin` (the first slice's body) the tenant has no administrator until an operator
    registers one; new clients always send it."""
    with rt.transaction() as session:
        if isinstance(body, TenantOpen):
            tenant, _ = service.open_tenant(session, body, actor_of(p, request))
        else:
            tenant = service.create_tenant(session, body, actor_of(p, request))
        out = TenantOut.model_validate(tenant)
    _etag(response, out.version)
    return out


def _own_tenant_or_operator(p: Principal, tenant_id: str) -> None:
    # Another tenant's id answers 404, never 403: its existence is not ours to reveal.
    if p.kind != "operator" and p.tenant_id != tenant_id:
        raise not_found()


@router.get("/tenants/{tenant_id}", response_model=TenantOut, responses=PROBLEMS)
def get_tenant(tenant_id: str, p: CurrentPrincipal, rt: Rt, response: Response) -> TenantOut:
    _own_tenant_or_operator(p, tenant_id)
    with rt.db.sessions() as session:
        tenant = repository.tenant_by_id(session, tenant_id)
        if tenant is None:
            raise not_found()
        _etag(response, tenant.version)
        return TenantOut.model_validate(tenant)


@router.put("/tenants/{tenant_id}", response_model=TenantOut, responses=EDIT_PROBLEMS)
def update_tenant(tenant_id: str, body: TenantUpdate, p: OperatorPrincipal, request: Request, rt: Rt,
                  response: Response, if_match: IfMatch = None) -> TenantOut:
    """Change the contract (name, kind, dates). Setting `contract_end` schedules the end of contract
    (GET …/termination shows the computed dates). System operators only."""
    with rt.transaction() as session:
        tenant = service.update_tenant(session, tenant_id, body, if_match, actor_of(p, request))
        out = TenantOut.model_validate(tenant)
    _etag(response, out.version)
    return out


def _settings_out(t: Tenant) -> TenantSettingsOut:
    return TenantSettingsOut(tenant_id=t.id, version=t.version, totp_required=t.totp_required,
                             device_cert_required=t.device_cert_required, ip_allowlist=list(t.ip_allowlist or []),
                             password_policy=t.password_policy or {}, lockout_policy=t.lockout_policy or {})


def _settings_caller(p: Principal, rt: Runtime, tenant_id: str) -> None:
    """The operator, or an administrator of this tenant (as the read model says now)."""
    _own_tenant_or_operator(p, tenant_id)
    if p.kind == "operator":
        return
    if p.kind != "user" or not _caller(rt, p).is_admin:
        raise forbidden("テナントの設定は管理者のみ変更できます")


@router.get("/tenants/{tenant_id}/settings", response_model=TenantSettingsOut, responses=PROBLEMS)
def get_settings(tenant_id: str, p: CurrentPrincipal, rt: Rt, response: Response) -> TenantSettingsOut:
    _settings_caller(p, rt, tenant_id)
    with rt.db.sessions() as session:
        tenant = repository.tenant_by_id(session, tenant_id)
        if tenant is None:
            raise not_found()
        _etag(response, tenant.version)
        return _settings_out(tenant)


@router.put("/tenants/{tenant_id}/settings", response_model=TenantSettingsOut, responses=EDIT_PROBLEMS)
def put_settings(tenant_id: str, body: TenantSettings, p: CurrentPrincipal, request: Request, rt: Rt,
                 response: Response, if_match: IfMatch = None) -> TenantSettingsOut:
    """Security settings, whole: TOTP required, device certificate required, IP allowlist (CIDR,
    IPv4 and IPv6), password and lockout policy overrides (null = default). Auth applies them
    from roumu.accounts.tenant.settings_changed; the gateway enforces the allowlist."""
    _settings_caller(p, rt, tenant_id)
    with rt.transaction() as session:
        tenant = service.update_settings(session, tenant_id, body, if_match, actor_of(p, request))
        out = _settings_out(tenant)
    _etag(response, out.version)
    return out


# --- users ------------------------------------------------------------------------------------

def _caller(rt: Runtime, p: Principal) -> Caller:
    """The caller's grants now (read model), for the no-escalation rule of rules/grants.py."""
    if p.kind == "service":
        return Caller(p.subject, True, {}, True, frozenset())
    assert p.tenant_id
    with rt.db.sessions() as session:
        g = permissions.load(session, p.tenant_id, p.subject)
    if g is None:  # not replicated yet: require_menu let it through on the token's admin role
        return Caller(p.subject, TENANT_ADMIN in p.roles, {}, TENANT_ADMIN in p.roles, frozenset())
    return Caller(p.subject, TENANT_ADMIN in g.roles and g.status == "active", dict(g.menus), g.jigyosho_all,
                  g.jigyosho_ids)


def _user_out(u: User) -> UserOut:
    return UserOut(id=u.id, tenant_id=u.tenant_id, login_id=u.login_id, display_name=u.display_name,
                   roles=list(u.roles), status=u.status,
                   grants=Grants(menus=dict(u.menus or {}),
                                 jigyosho=JigyoshoGrant(all=u.jigyosho_all, ids=list(u.jigyosho_ids or []))),
                   email=u.email, deadline_digest_days=u.deadline_digest_days,
                   permissions_version=u.permissions_version, created_at=u.created_at, version=u.version)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut, responses=PROBLEMS)
def create_user(body: UserCreate, p: TenantPrincipal, access: UsersWrite, request: Request, rt: Rt,
                response: Response) -> UserOut:
    """Register a user of the caller's tenant, with roles and grants (user-admin menu; only an
    administrator registers administrators). No self sign-up, no invitations."""
    caller = _caller(rt, p)
    with rt.transaction() as session:
        user = service.create_user(session, access.tenant_id, body, actor_of(p, request), caller=caller)
        out = _user_out(user)
    response.headers["Location"] = f"{router.prefix}/users/{out.id}"
    _etag(response, out.version)
    return out


@router.get("/users", response_model=UserPage, responses=PROBLEMS)
def list_users(access: UsersRead, rt: Rt, limit: Limit = 50, offset: Offset = 0) -> UserPage:
    with rt.db.sessions() as session:
        rows, total = repository.users_in_tenant(session, access.tenant_id, limit, offset)
        return UserPage(items=[_user_out(u) for u in rows], total=total, limit=limit, offset=offset)


@router.get("/users/{user_id}", response_model=UserOut, responses=PROBLEMS)
def get_user(user_id: str, p: TenantPrincipal, rt: Rt, response: Response) -> UserOut:
    """A user of the caller's tenant (user-admin menu), or the caller themself."""
    assert p.tenant_id
    with rt.db.sessions() as session:
        user = repository.user_in_tenant(session, p.tenant_id, user_id)
        if user is None:  # another tenant's user included: 404 before any permission talk
            raise not_found()
        out = _user_out(user)
    if user_id != p.subject:
        require_menu(USER_ADMIN, "read")(p, rt)
    _etag(response, out.version)
    return out


@router.put("/users/{user_id}", response_model=UserOut, responses=EDIT_PROBLEMS)
def update_user(user_id: str, body: UserUpdate, p: TenantPrincipal, access: UsersWrite, request: Request,
                rt: Rt, response: Response, if_match: IfMatch = None) -> UserOut:
    """Replace login id, name, roles and grants (If-Match). A revoked grant is refused in every
    service within seconds (roumu.accounts.user.permissions_changed)."""
    caller = _caller(rt, p)
    with rt.transaction() as session:
        user = service.update_user(session, access.tenant_id, user_id, body, if_match, actor_of(p, request),
                                   caller)
        out = _user_out(user)
    _etag(response, out.version)
    return out


def _set_status(user_id: str, new_status: str, p: Principal, access: Access, request: Request, rt: Runtime,
                response: Response, if_match: str | None) -> UserOut:
    caller = _caller(rt, p)
    with rt.transaction() as session:
        user = service.set_user_status(session, access.tenant_id, user_id, new_status, if_match,
                                       actor_of(p, request), caller)
        out = _user_out(user)
    _etag(response, out.version)
    return out


@router.post("/users/{user_id}/disable", response_model=UserOut, responses=EDIT_PROBLEMS)
def disable_user(user_id: str, p: TenantPrincipal, access: UsersWrite, request: Request, rt: Rt,
                 response: Response, if_match: IfMatch = None) -> UserOut:
    """Disable a user: their sessions end (auth) and their grants stop everywhere within seconds."""
    return _set_status(user_id, "disabled", p, access, request, rt, response, if_match)


@router.post("/users/{user_id}/enable", response_model=UserOut, responses=EDIT_PROBLEMS)
def enable_user(user_id: str, p: TenantPrincipal, access: UsersWrite, request: Request, rt: Rt,
                response: Response, if_match: IfMatch = None) -> UserOut:
    return _set_status(user_id, "active", p, access, request, rt, response, if_match)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=EDIT_PROBLEMS)
def delete_user(user_id: str, p: TenantPrincipal, access: UsersWrite, request: Request, rt: Rt,
                if_match: IfMatch = None) -> Response:
    caller = _caller(rt, p)
    with rt.transaction() as session:
        service.delete_user(session, access.tenant_id, user_id, if_match, actor_of(p, request), caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/permissions", response_model=EffectivePermissions, responses=problem_responses(401, 403))
def my_permissions(p: TenantPrincipal, rt: Rt) -> EffectivePermissions:
    """What the caller may use now (for showing menus): each menu at its highest level, and the
    事業所 (all, or a list). Every service decides the same way from the same grants."""
    assert p.tenant_id
    grants = None
    if p.kind == "user":
        with rt.db.sessions() as session:
            grants = permissions.load(session, p.tenant_id, p.subject)
    menus: dict[str, str] = {}
    scope: frozenset[str] | None = frozenset()
    for menu in MENUS:
        for level in ("write", "read"):
            d = decide(p.kind, p.roles, p.scopes, grants, menu, level)
            if d is not None:
                menus[menu] = level
                scope = None if d.jigyosho_ids is None or scope is None else scope | d.jigyosho_ids
                break
    return EffectivePermissions(roles=sorted(grants.roles if grants else p.roles),
                                status=grants.status if grants else "active", menus=menus,
                                jigyosho=JigyoshoGrant(all=scope is None, ids=sorted(scope or [])))


NOT_OFFERED = {
    "invitations": "外部の利用者を招待する機能はありません。利用者は管理者が登録します",
    "signup": "利用者の自己登録はできません。利用者は管理者が登録します",
    "saml": "SAML によるシングルサインオンには対応していません。連携システムにはクライアント認証情報を発行します",
}


def _not_offered(what: str) -> ProblemError:
    return ProblemError(403, "not-offered", "この機能は提供していません", NOT_OFFERED[what])


@router.post("/invitations", responses=problem_responses(403), status_code=403)
def invitations() -> None:
    """Refused: no invitations of outside users (service sheet)."""
    raise _not_offered("invitations")


@router.post("/signup", responses=problem_responses(403), status_code=403)
def signup() -> None:
    """Refused: no self sign-up; administrators register users."""
    raise _not_offered("signup")


# One route per method: a multi-method route's operationId depends on set order (drifts).
@router.get("/saml/{rest:path}", responses=problem_responses(403), status_code=403)
def saml_get(rest: str) -> None:
    """Refused: no SAML; partner systems get OAuth2 client credentials."""
    raise _not_offered("saml")


@router.post("/saml/{rest:path}", responses=problem_responses(403), status_code=403)
def saml_post(rest: str) -> None:
    """Refused: no SAML; partner systems get OAuth2 client credentials."""
    raise _not_offered("saml")


# --- 事業所 -----------------------------------------------------------------------------------

def _jigyosho_out(j: Jigyosho) -> JigyoshoOut:
    parts = None
    if j.labour_insurance_number:
        n = parse_labour_insurance_number(j.labour_insurance_number)
        parts = LabourInsuranceNumberOut(
            number=n.number, formatted=n.formatted, prefecture_code=n.prefecture_code, prefecture=n.prefecture,
            shokan=n.shokan, shokan_meaning=n.shokan_meaning, kankatsu=n.kankatsu, kikan=n.kikan,
            kikan_kind=n.kikan_kind, kikan_application=n.kikan_application, edaban=n.edaban, notes=list(n.notes))
    return JigyoshoOut(
        id=j.id, tenant_id=j.tenant_id, name=j.name, name_kana=j.name_kana, postal_code=j.postal_code,
        address=j.address, labour_insurance_number=j.labour_insurance_number, labour_insurance_number_parts=parts,
        employment_insurance_office_number=j.employment_insurance_office_number,
        rousai_gyoshu_code=j.rousai_gyoshu_code, koyo_jigyo_kubun=j.koyo_jigyo_kubun,
        headcount=j.headcount, contacts=[Contact.model_validate(c) for c in j.contacts or []], status=j.status,
        closed_on=j.closed_on, created_at=j.created_at, updated_at=j.updated_at, version=j.version)


def _jigyosho_or_404(session: Any, access: Access, jigyosho_id: str) -> Jigyosho:
    j = repository.jigyosho_in_tenant(session, access.tenant_id, jigyosho_id)
    if j is None or not access.allows_jigyosho(j.id):
        raise not_found()
    return j


@router.post("/jigyosho", status_code=status.HTTP_201_CREATED, response_model=JigyoshoOut, responses=PROBLEMS)
def create_jigyosho(body: JigyoshoIn, p: TenantPrincipal, access: JigyoshoWrite, request: Request, rt: Rt,
                    response: Response) -> JigyoshoOut:
    """Register a client 事業所 (事業所管理 menu for writing, on all 事業所)."""
    if access.jigyosho_ids is not None:
        raise forbidden("事業所の登録には全事業所の権限が必要です")
    with rt.transaction() as session:
        out = _jigyosho_out(service.create_jigyosho(session, access.tenant_id, body, actor_of(p, request)))
    response.headers["Location"] = f"{router.prefix}/jigyosho/{out.id}"
    _etag(response, out.version)
    return out


@router.get("/jigyosho", response_model=JigyoshoPage, responses=PROBLEMS)
def list_jigyosho(access: JigyoshoRead, rt: Rt, limit: Limit = 50, offset: Offset = 0,
                  status: Annotated[str | None, Query(pattern="^(active|closed)$")] = None,
                  q: Annotated[str | None, Query(max_length=100, description=(
                      "名称・カナ・労働保険番号・雇用保険適用事業所番号の一部（部分一致）"))] = None) -> JigyoshoPage:
    """The 事業所 granted to the caller (those matching `q`, if given)."""
    with rt.db.sessions() as session:
        rows, total = repository.jigyosho_page(session, access.tenant_id, access.jigyosho_ids, status, limit, offset,
                                               q.strip() if q else None)
        return JigyoshoPage(items=[_jigyosho_out(j) for j in rows], total=total, limit=limit, offset=offset)


@router.get("/jigyosho/{jigyosho_id}", response_model=JigyoshoOut, responses=PROBLEMS)
def get_jigyosho(jigyosho_id: str, access: JigyoshoRead, rt: Rt, response: Response) -> JigyoshoOut:
    with rt.db.sessions() as session:
        j = _jigyosho_or_404(session, access, jigyosho_id)
        _etag(response, j.version)
        return _jigyosho_out(j)


@router.put("/jigyosho/{jigyosho_id}", response_model=JigyoshoOut, responses=EDIT_PROBLEMS)
def update_jigyosho(jigyosho_id: str, body: JigyoshoIn, p: TenantPrincipal, access: JigyoshoWrite,
                    request: Request, rt: Rt, response: Response, if_match: IfMatch = None) -> JigyoshoOut:
    with rt.transaction() as session:
        j = _jigyosho_or_404(session, access, jigyosho_id)
        out = _jigyosho_out(service.update_jigyosho(session, j, body, if_match, actor_of(p, request)))
    _etag(response, out.version)
    return out


@router.post("/jigyosho/{jigyosho_id}/close", response_model=JigyoshoOut, responses=EDIT_PROBLEMS)
def close_jigyosho(jigyosho_id: str, body: JigyoshoClose, p: TenantPrincipal, access: JigyoshoWrite,
                   request: Request, rt: Rt, response: Response, if_match: IfMatch = None) -> JigyoshoOut:
    """Close (廃止) a 事業所; koyo_hoken and jimukumiai learn it from roumu.accounts.jigyosho.closed."""
    with rt.transaction() as session:
        j = _jigyosho_or_404(session, access, jigyosho_id)
        out = _jigyosho_out(service.close_jigyosho(session, j, body.closed_on, if_match, actor_of(p, request)))
    _etag(response, out.version)
    return out


# --- お知らせ ---------------------------------------------------------------------------------

@router.post("/notices", status_code=status.HTTP_201_CREATED, response_model=NoticeOut, responses=PROBLEMS)
def publish_notice(body: NoticeCreate, p: OperatorPrincipal, request: Request, rt: Rt) -> NoticeOut:
    """Publish a notice (system operators). A maintenance notice must come at least one month
    before `starts_at`, an end-of-service notice at least three months before; `emergency` (with
    a reason) is exempt and shown as such. Refused otherwise (422 notice-lead-time)."""
    with rt.transaction() as session:
        return NoticeOut.model_validate(service.publish_notice(session, body, actor_of(p, request),
                                                               _clock(rt).now()))


@router.get("/notices", response_model=NoticePage, responses=PROBLEMS)
def list_notices(p: OperatorPrincipal, rt: Rt, limit: Limit = 100) -> NoticePage:
    with rt.db.sessions() as session:
        return NoticePage(items=[NoticeOut.model_validate(n) for n in repository.all_notices(session, limit)])


@router.get("/notices/current", response_model=NoticePage, responses=problem_responses(401))
def current_notices(p: CurrentPrincipal, rt: Rt) -> NoticePage:
    """Notices to show now (after login): to everyone, and to the caller's tenant."""
    with rt.db.sessions() as session:
        rows = repository.current_notices(session, _clock(rt).now(), p.tenant_id, p.kind == "operator")
        return NoticePage(items=[NoticeOut.model_validate(n) for n in rows])


# --- internal (the gateway) -------------------------------------------------------------------

def _service_only(p: CurrentPrincipal) -> Principal:
    if p.kind != "service":
        raise forbidden("サービス間の呼び出し専用です")
    return p


ServiceCaller = Annotated[Principal, Depends(_service_only)]


def _gateway_view(t: Tenant | None) -> TenantGatewayView:
    if t is None:
        raise not_found()
    return TenantGatewayView(tenant_id=t.id, code=t.code, status=t.status, ip_allowlist=list(t.ip_allowlist or []),
                             device_cert_required=t.device_cert_required)


@router.get("/internal/tenants/by-code/{tenant_code}", response_model=TenantGatewayView, responses=PROBLEMS)
def internal_tenant_by_code(tenant_code: str, p: ServiceCaller, rt: Rt) -> TenantGatewayView:
    """For the gateway (service tokens only): status, IP allowlist and device-certificate rule."""
    with rt.db.sessions() as session:
        return _gateway_view(repository.tenant_by_code(session, tenant_code[:32]))


@router.get("/internal/tenants/{tenant_id}", response_model=TenantGatewayView, responses=PROBLEMS)
def internal_tenant(tenant_id: str, p: ServiceCaller, rt: Rt) -> TenantGatewayView:
    with rt.db.sessions() as session:
        return _gateway_view(repository.tenant_by_id(session, tenant_id[:36]))


# --- end of contract --------------------------------------------------------------------------

def _termination_out(session: Any, term: ContractTermination) -> TerminationOut:
    confirmed = sorted(service.confirmed_services(session, term.tenant_id))
    out = TerminationOut.model_validate(term)
    out.confirmed_services = confirmed
    out.pending_services = [s for s in PURGING_SERVICES if s not in confirmed] if term.purge_requested_at else []
    out.export_available = term.status in ("scheduled", "disabled")
    out.exports = [TenantExportOut.model_validate(r) for r in exports.listing(session, term.tenant_id)]
    return out


@router.get("/tenants/{tenant_id}/termination", response_model=TerminationOut, responses=PROBLEMS)
def get_termination(tenant_id: str, p: CurrentPrincipal, rt: Rt) -> TerminationOut:
    """The end-of-contract schedule (行政機関 business days) and how far it went: for the operator,
    and read-only for an administrator of this tenant (when their data will be deleted)."""
    _admin_or_operator(rt, p, tenant_id)
    with rt.db.sessions() as session:
        term = session.get(ContractTermination, tenant_id)
        if term is None:
            raise not_found()
        return _termination_out(session, term)


def _admin_or_operator(rt: Runtime, p: Principal, tenant_id: str) -> None:
    if not (p.kind == "operator" or (p.kind == "service" and p.tenant_id is None)):
        _own_tenant_or_operator(p, tenant_id)
        if p.kind != "user" or not _caller(rt, p).is_admin:
            raise forbidden("契約終了の予定と返却データは管理者のみ参照できます")


# --- return before deletion (返却) -------------------------------------------------------------

@router.post("/tenants/{tenant_id}/exports", status_code=status.HTTP_201_CREATED, response_model=SignedExport,
             responses=PROBLEMS)
def sign_export(tenant_id: str, body: TenantExportSign, p: OperatorPrincipal, rt: Rt, request: Request) -> SignedExport:
    """Sign a whole-tenant export's manifest with the deletion certificate key and record the export
    (ops.tenant_export calls this after collecting every service's share; docs/tenant-export.md).
    System operators only; refused once the tenant's data deletion has begun."""
    with rt.transaction() as session:
        row = exports.sign(session, messaging, rt.settings.keys_dir, tenant_id, body.manifest, actor_of(p, request),
                           datetime.now(UTC))
        return SignedExport(export_id=row.id, manifest=row.manifest, signature=row.signature, key_id=row.key_id)


@router.put("/tenants/{tenant_id}/exports/{export_id}/archive", response_model=TenantExportOut,
            responses=problem_responses(401, 403, 404, 409, 413, 422))
async def upload_export_archive(tenant_id: str, export_id: str, p: OperatorPrincipal, rt: Rt,
                                request: Request) -> TenantExportOut:
    """The export's tar (application/x-tar), kept for the tenant's administrators to download until
    the data is deleted. Its manifest.json must be the signed text."""
    with rt.db.sessions() as session:
        row = exports.find(session, tenant_id, export_id)
        exports.exportable(session, tenant_id)
    sha, size = await exports.receive_archive(request.stream(), rt.settings.var_dir, row)
    with rt.transaction() as session:
        row = exports.find(session, tenant_id, export_id)
        row.archive_sha256, row.archive_size, row.archived_at = sha, size, datetime.now(UTC)
        session.flush()
        return TenantExportOut.model_validate(row)


@router.get("/tenants/{tenant_id}/exports", response_model=list[TenantExportOut], responses=PROBLEMS)
def list_exports(tenant_id: str, p: CurrentPrincipal, rt: Rt) -> list[TenantExportOut]:
    """The exports made of this tenant (operators; read-only for the tenant's administrators)."""
    _admin_or_operator(rt, p, tenant_id)
    with rt.db.sessions() as session:
        return [TenantExportOut.model_validate(r) for r in exports.listing(session, tenant_id)]


@router.get("/tenants/{tenant_id}/exports/{export_id}/archive", response_class=FileResponse,
            responses={200: {"content": {"application/x-tar": {}}}, **PROBLEMS})
def download_export_archive(tenant_id: str, export_id: str, p: CurrentPrincipal, rt: Rt) -> FileResponse:
    """Download the export (a tar: manifest.json, manifest.sig, the CSVs, the original files)."""
    _admin_or_operator(rt, p, tenant_id)
    with rt.db.sessions() as session:
        row = exports.find(session, tenant_id, export_id)
    path = exports.archive_path(rt.settings.var_dir, tenant_id, export_id)
    if row.archived_at is None or not path.is_file():
        raise not_found()
    return FileResponse(path, media_type="application/x-tar", filename=f"roumu-export-{export_id}.tar")


def _signed(rt: Runtime, tenant_id: str) -> tuple[dict[str, Any], str, str, str]:
    with rt.db.sessions() as session:
        term = session.get(ContractTermination, tenant_id)
        if term is None:
            raise not_found()
        rows = list(session.query(PurgeConfirmation).filter(PurgeConfirmation.tenant_id == tenant_id))
        if {r.service for r in rows} < set(PURGING_SERVICES) or term.status not in ("purged", "accounts_deleted"):
            raise ProblemError(409, "purge-incomplete", "データ削除が完了していません",
                               "すべてのサービスの削除確認がそろうと証明書を発行できます")
        doc = certificate.build(term, rows, datetime.now(UTC))
    text, sig, kid = certificate.sign(doc, rt.settings.keys_dir)
    return doc, text, sig, kid


@router.get("/tenants/{tenant_id}/deletion-certificate", response_model=SignedCertificate, responses=PROBLEMS)
def deletion_certificate(tenant_id: str, p: OperatorPrincipal, rt: Rt) -> SignedCertificate:
    """The signed deletion certificate (on request, once every service confirmed its purge)."""
    _, text, sig, kid = _signed(rt, tenant_id)
    return SignedCertificate(certificate=text, signature=sig, key_id=kid)


@router.get("/tenants/{tenant_id}/deletion-certificate.txt", response_class=PlainTextResponse,
            responses=PROBLEMS)
def deletion_certificate_text(tenant_id: str, p: OperatorPrincipal, rt: Rt) -> PlainTextResponse:
    """The same certificate for people (Japanese), quoting its signature."""
    doc, _, sig, kid = _signed(rt, tenant_id)
    return PlainTextResponse(certificate.render_text(doc, sig, kid))


@router.get("/certificate-keys")
def certificate_keys(rt: Rt) -> dict[str, list[dict[str, str]]]:
    """Public keys (JWKS, Ed25519) that verify deletion certificates. No authentication."""
    return certificate_jwks(rt.settings.keys_dir)


@operations.post("/contract-jobs/run", response_model=JobRun, responses=problem_responses(401, 403))
def run_contract_jobs(p: OperatorPrincipal, rt: Rt) -> JobRun:
    """Run the contract-end steps that are due now (the scheduler does the same every minute)."""
    return JobRun(ran=run_jobs(rt))


def run_jobs(rt: Runtime) -> list[dict[str, Any]]:
    cfg: AccountsSettings = rt.extras["accounts_settings"]
    return service.run_due_jobs(rt.transaction, _clock(rt).now(), timedelta(seconds=cfg.purge_settle_seconds),
                                rt.extras.get("ledger"),
                                lambda tenant_id: exports.remove_archives(rt.settings.var_dir, tenant_id))


@operations.get("/mail-deliveries", response_model=MailDeliveryPage, responses=problem_responses(401, 403, 422))
def mail_deliveries(p: OperatorPrincipal, rt: Rt, limit: Limit = 100,
                    status: Annotated[str | None, Query(pattern=r"^(pending|sent|refused|failed)$")] = None,
                    tenant_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,36}$")] = None,
                    ) -> MailDeliveryPage:
    """The mail delivery log, newest first (system operators): what was sent, what waits for a
    retry, and what the server refused or was given up on."""
    with rt.db.sessions() as session:
        rows = mail.deliveries(session, status, tenant_id, limit)
        return MailDeliveryPage(items=[MailDeliveryOut.model_validate(r) for r in rows])


@operations.post("/republish-grants", response_model=Republished, responses=problem_responses(401, 403, 404, 422))
def republish_grants(p: OperatorPrincipal, request: Request, rt: Rt,
                     body: RepublishGrants | None = None) -> Republished:
    """Publish again every user's current permissions (roumu.accounts.user.permissions_changed, the
    same permissions_version, deleted users' tombstones included) and every tenant's settings
    (roumu.accounts.tenant.settings_changed) and every 事業所 as it is now
    (roumu.accounts.jigyosho.updated, or .closed), optionally for one tenant. For a service whose
    database was restored or that was added later, or a 事業所 read model added after its 事業所
    were created: the stream keeps events 30 days. A service that
    has a snapshot ignores it (not newer); one that lacks it applies it. Tenants whose data deletion
    has started are skipped. System operators only."""
    users, tenants, offices = service.republish_grants(rt.transaction, actor_of(p, request),
                                                       body.tenant_id if body else None)
    return Republished(users=users, tenants=tenants, jigyosho=offices)
