"""Tenant administrators' routes: unlock, password reset, TOTP reset, lockout records, the
device CA and its certificates, partner clients. Another tenant's ids answer 404."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.auth import certificates, partners, passwords_service, repository, service, sessions, totp_service
from services.auth.deps import Ctx, Rt, TenantAdmin, UserSession, client_ip
from services.auth.models import Credential, DeviceCertificate, PartnerClient, TenantCa
from services.auth.rules.retention import kept_since
from services.auth.rules.scopes import SCOPES
from services.auth.schemas import (
    CsrRequest,
    DeviceCa,
    DeviceCas,
    DeviceCertificateItem,
    IssuedCertificate,
    LockoutItem,
    PartnerClientCreate,
    PartnerClientItem,
    PartnerClientWithSecret,
    PartnerJigyoshoGrant,
    PartnerScopesChange,
    PasswordResetRequest,
    RotatedKey,
    ScopeItem,
    TenantDeviceCa,
)
from shared.auth_deps import CurrentPrincipal, OperatorPrincipal
from shared.errors import ProblemError, forbidden, not_found, problem_responses
from shared.events import Actor
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("auth"), tags=["auth: administration"])

# A self-reset skipped the daily limit; cycled, it walked back to an old password (issue 18.9).
OWN_RESET = ProblemError(403, "own-password-reset", "自分のパスワードはリセットできません",
                         "自分のパスワードは「パスワード変更」で変更してください")


def _actor(admin: UserSession, request: Request) -> Actor:
    return Actor(kind="user", id=admin.user_id, ip=client_ip(request))


def _user(session: Session, admin: UserSession, user_id: str) -> Credential:
    cred = repository.credential_in_tenant(session, admin.tenant_id, user_id)
    if cred is None:
        raise not_found()
    return cred


@router.post("/users/{user_id}/unlock", status_code=204, responses=problem_responses(401, 403, 404, 409))
def unlock_user(user_id: str, admin: TenantAdmin, request: Request, rt: Rt, ctx: Ctx) -> Response:
    """Unlock a locked account (recorded with who did it)."""
    with rt.transaction() as session:
        service.unlock(session, _user(session, admin, user_id), _actor(admin, request), ctx.clock.now())
    return Response(status_code=204)


@router.post("/users/{user_id}/password-reset", status_code=204, responses=problem_responses(401, 403, 404, 422))
def reset_password(user_id: str, body: PasswordResetRequest, admin: TenantAdmin, request: Request, rt: Rt,
                   ctx: Ctx) -> Response:
    """Set a temporary password: exempt from the daily limit, the user must change it at next
    login; the user's sessions end. Not for one's own account (403): use `POST /me/password`,
    which the daily limit and the history apply to."""
    if user_id == admin.user_id:
        raise OWN_RESET
    with rt.transaction() as session:
        cred = _user(session, admin, user_id)
        passwords_service.admin_reset(session, ctx, cred, body.temporary_password, _actor(admin, request))
        sessions.revoke_all(session, ctx.clock.now(), cred.user_id, _actor(admin, request), "password_reset")
    return Response(status_code=204)


@router.delete("/users/{user_id}/totp", status_code=204, responses=problem_responses(401, 403, 404))
def reset_totp(user_id: str, admin: TenantAdmin, request: Request, rt: Rt) -> Response:
    """Remove the user's TOTP and recovery codes (a lost phone); the user enrols again."""
    with rt.transaction() as session:
        totp_service.reset(session, _user(session, admin, user_id), _actor(admin, request))
    return Response(status_code=204)


@router.get("/lockouts", response_model=list[LockoutItem], responses=problem_responses(401, 403))
def list_lockouts(admin: TenantAdmin, rt: Rt, ctx: Ctx, user_id: str | None = Query(default=None)) -> list[LockoutItem]:
    """Lockouts of the tenant's users in the last year, and how each ended."""
    since = kept_since(ctx.clock.now(), ctx.settings.retention_years)
    with rt.db.transaction() as session:
        rows = repository.lockouts(session, admin.tenant_id, since, user_id)
    return [LockoutItem(id=r.id, user_id=r.user_id, locked_at=r.locked_at, locked_until=r.locked_until,
                        failures=r.failures, ip=r.ip, unlocked_at=r.unlocked_at, unlocked_by=r.unlocked_by,
                        unlock_reason=r.unlock_reason) for r in rows]


@router.get("/device-ca", response_model=DeviceCa, responses=problem_responses(401, 403))
def device_ca(admin: TenantAdmin, rt: Rt, ctx: Ctx) -> DeviceCa:
    """The tenant's device CA certificate (created on first use)."""
    with rt.transaction() as session:
        row = certificates.ensure_ca(session, ctx, admin.tenant_id)
    return DeviceCa(certificate_pem=row.cert_pem)


@router.get("/device-cas", response_model=DeviceCas, responses=problem_responses(401, 403))
def all_device_cas(p: CurrentPrincipal, rt: Rt) -> DeviceCas:
    """Every tenant's device CA, for the gateway's TLS trust store (service token from the
    gateway only). The gateway checks nothing tenant-specific; auth does at login."""
    _gateway_only(p)
    with rt.db.transaction() as session:
        rows = session.execute(select(TenantCa).order_by(TenantCa.tenant_id)).scalars().all()
    return DeviceCas(certificates=[DeviceCa(certificate_pem=r.cert_pem) for r in rows])


def _gateway_only(p: CurrentPrincipal) -> None:
    if p.kind != "service" or p.subject != "gateway":
        raise forbidden("ゲートウェイのみが使用できます")


@router.get("/internal/device-ca/{tenant_id}", response_model=TenantDeviceCa,
            responses=problem_responses(401, 403, 404))
def tenant_device_ca(tenant_id: str, p: CurrentPrincipal, rt: Rt) -> TenantDeviceCa:
    """One tenant's device CA and the serials it revoked, for the gateway's check at login
    (service token from the gateway only). 404 while the tenant has no CA yet: then no
    certificate of it can exist, and the gateway leaves the decision to auth's own login check."""
    _gateway_only(p)
    with rt.db.transaction() as session:
        row = session.get(TenantCa, tenant_id)
        if row is None:
            raise not_found()
        revoked = [c.serial for c in repository.device_certificates(session, tenant_id) if c.revoked_at is not None]
    return TenantDeviceCa(tenant_id=tenant_id, ca_pem=row.cert_pem, revoked_serials=sorted(revoked))


def _cert_item(r: DeviceCertificate) -> DeviceCertificateItem:
    return DeviceCertificateItem(serial=r.serial, label=r.label, fingerprint_sha256=r.fingerprint,
                                 not_before=r.not_before, not_after=r.not_after, issued_at=r.issued_at,
                                 revoked_at=r.revoked_at)


@router.post("/device-certificates", status_code=201, response_model=IssuedCertificate,
             responses=problem_responses(401, 403, 422))
def issue_certificate(body: CsrRequest, admin: TenantAdmin, request: Request, rt: Rt, ctx: Ctx) -> IssuedCertificate:
    """Sign a device's CSR with the tenant's CA (client authentication only)."""
    with rt.transaction() as session:
        issued = certificates.issue(session, ctx, admin.tenant_id, body.csr_pem, body.label, _actor(admin, request),
                                    body.days)
        ca_pem = certificates.ensure_ca(session, ctx, admin.tenant_id).cert_pem
    return IssuedCertificate(**_cert_item(issued.row).model_dump(), certificate_pem=issued.pem,
                             ca_certificate_pem=ca_pem)


@router.get("/device-certificates", response_model=list[DeviceCertificateItem], responses=problem_responses(401, 403))
def list_certificates(admin: TenantAdmin, rt: Rt) -> list[DeviceCertificateItem]:
    with rt.db.transaction() as session:
        rows = repository.device_certificates(session, admin.tenant_id)
    return [_cert_item(r) for r in rows]


@router.post("/device-certificates/{serial}/revoke", response_model=DeviceCertificateItem,
             responses=problem_responses(401, 403, 404))
def revoke_certificate(serial: str, admin: TenantAdmin, request: Request, rt: Rt, ctx: Ctx) -> DeviceCertificateItem:
    """Revoke: logins presenting it are refused from now on."""
    with rt.transaction() as session:
        row = certificates.revoke(session, ctx, admin.tenant_id, serial, _actor(admin, request))
    return _cert_item(row)


def _client_item(c: PartnerClient) -> PartnerClientItem:
    return PartnerClientItem(client_id=c.client_id, name=c.name, scopes=c.scopes, jigyosho_ids=c.jigyosho_ids,
                             created_at=c.created_at, created_by=c.created_by,
                             secret_rotated_at=c.secret_rotated_at,
                             disabled_at=c.disabled_at)


@router.get("/scopes", response_model=list[ScopeItem])
def list_scopes() -> list[ScopeItem]:
    """The scopes a partner client can be given."""
    return [ScopeItem(name=k, description=v) for k, v in SCOPES.items()]


@router.post("/partner-clients", status_code=201, response_model=PartnerClientWithSecret,
             responses=problem_responses(400, 401, 403, 422))
def create_partner(body: PartnerClientCreate, admin: TenantAdmin, request: Request, rt: Rt,
                   ctx: Ctx) -> PartnerClientWithSecret:
    """A client-credentials client for a partner system; the secret is shown only here."""
    with rt.transaction() as session:
        made = partners.create(session, ctx, admin.tenant_id, body.name, body.scopes, _actor(admin, request),
                               body.jigyosho_ids)
    return PartnerClientWithSecret(**_client_item(made.client).model_dump(), client_secret=made.secret)


@router.get("/partner-clients", response_model=list[PartnerClientItem], responses=problem_responses(401, 403))
def list_partners(admin: TenantAdmin, rt: Rt) -> list[PartnerClientItem]:
    with rt.db.transaction() as session:
        rows = repository.partner_clients(session, admin.tenant_id)
    return [_client_item(c) for c in rows]


@router.post("/partner-clients/{client_id}/secret", response_model=PartnerClientWithSecret,
             responses=problem_responses(401, 403, 404))
def rotate_partner_secret(client_id: str, admin: TenantAdmin, request: Request, rt: Rt,
                          ctx: Ctx) -> PartnerClientWithSecret:
    """A new secret; the old one stops working at once."""
    with rt.transaction() as session:
        made = partners.rotate(session, ctx, admin.tenant_id, client_id, _actor(admin, request))
    return PartnerClientWithSecret(**_client_item(made.client).model_dump(), client_secret=made.secret)


@router.put("/partner-clients/{client_id}/jigyosho", response_model=PartnerClientItem,
            responses=problem_responses(401, 403, 404, 422))
def grant_partner_jigyosho(client_id: str, body: PartnerJigyoshoGrant, admin: TenantAdmin, request: Request,
                           rt: Rt) -> PartnerClientItem:
    """The 事業所 the partner client may reach (null = every 事業所 of the tenant). Tokens issued from
    now on carry the grant; data of any other 事業所 answers 404 to the client."""
    with rt.transaction() as session:
        client = partners.grant_jigyosho(session, admin.tenant_id, client_id, body.jigyosho_ids,
                                         _actor(admin, request))
        return _client_item(client)


@router.put("/partner-clients/{client_id}/scopes", response_model=PartnerClientItem,
            responses=problem_responses(400, 401, 403, 404, 422))
def change_partner_scopes(client_id: str, body: PartnerScopesChange, admin: TenantAdmin, request: Request,
                          rt: Rt) -> PartnerClientItem:
    """The scopes the partner client may ask for. Tokens issued before end at once (revoked), so a
    scope taken away is refused from now on; the client asks for a new token."""
    with rt.transaction() as session:
        client = partners.change_scopes(session, admin.tenant_id, client_id, body.scopes, _actor(admin, request))
        return _client_item(client)


@router.delete("/partner-clients/{client_id}", status_code=204, responses=problem_responses(401, 403, 404))
def disable_partner(client_id: str, admin: TenantAdmin, request: Request, rt: Rt, ctx: Ctx) -> Response:
    with rt.transaction() as session:
        partners.disable(session, ctx, admin.tenant_id, client_id, _actor(admin, request))
    return Response(status_code=204)


@router.post("/keys/rotate", response_model=RotatedKey, responses=problem_responses(401, 403))
def rotate_signing_key(op: OperatorPrincipal, ctx: Ctx) -> RotatedKey:
    """A new access-token signing key (operators). It is in the JWKS at once and signs from now
    on; tokens signed with older keys still verify until those keys are removed."""
    return RotatedKey(kid=ctx.keys.rotate())
