"""Routes for office certificates (PKCS#12) used to sign e-Gov packages, and the choice of one per
e-Gov account. Tenant staff with the 電子申請 write menu on every 事業所 (a certificate signs for the
whole tenant, like an e-Gov account); listing needs the read menu. See certificates.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.efiling import certificates, context, service
from services.efiling.api import CanRead, CanWrite, IfMatch, Rt, _account_admin, _etag, account_for_update
from services.efiling.models import EgovAccount, OfficeCertificate
from services.efiling.schemas import (
    AccountCertificateIn,
    CertificateList,
    CertificateOut,
    CertificatePatch,
    EgovAccountOut,
)
from shared.auth_deps import TenantPrincipal, actor_of
from shared.errors import ProblemError, problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("efiling"), tags=["efiling"])
PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422, 428)

Pkcs12 = Annotated[UploadFile, File(description="証明書ファイル (PKCS#12: .p12 / .pfx、64 KB まで)")]
Password = Annotated[str, Form(max_length=256, description="PKCS#12 ファイルのパスワード (保存しません)")]
Label = Annotated[str, Form(min_length=1, max_length=100, description="表示名 (例: 事務所、理事長)")]


def _out(row: OfficeCertificate, now: datetime, accounts: list[str]) -> CertificateOut:
    out = CertificateOut.model_validate(row)
    out.egov_account_ids = accounts
    if row.not_after <= now:
        out.expired = True
        out.warning = f"証明書「{row.label}」は有効期限が切れています ({row.not_after:%Y-%m-%d})。差し替えてください"
    elif row.not_after - now <= certificates.EXPIRY_WARNING:
        out.expires_soon = True
        out.warning = (f"証明書「{row.label}」の有効期限が近づいています ({row.not_after:%Y-%m-%d}、"
                       f"残り{(row.not_after - now).days}日)。更新した証明書に差し替えてください")
    return out


def _accounts_of(session: Session, tenant_id: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for acct_id, cert_id in session.execute(select(EgovAccount.id, EgovAccount.certificate_id).where(
            EgovAccount.tenant_id == tenant_id, EgovAccount.certificate_id.is_not(None))):
        out.setdefault(str(cert_id), []).append(acct_id)
    return out


async def _read(upload: UploadFile, request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > certificates.MAX_PKCS12_BYTES + 64 * 1024:
        raise ProblemError(413, "certificate-too-large", "証明書ファイルが大きすぎます",
                           f"PKCS#12 ファイルは {certificates.MAX_PKCS12_BYTES // 1024} KB までです")
    data = await upload.read(certificates.MAX_PKCS12_BYTES + 1)
    return data


@router.get("/certificates", response_model=CertificateList, responses=PROBLEMS)
def list_certificates(access: CanRead, rt: Rt) -> CertificateList:
    """The tenant's office certificates: subject, issuer, serial, validity, fingerprint — never the
    key. A certificate expiring within 30 days (or expired) carries a `warning`."""
    now = context.of(rt).egov.clock.now()
    with rt.db.sessions() as session:
        rows = session.execute(select(OfficeCertificate).where(OfficeCertificate.tenant_id == access.tenant_id)
                               .order_by(OfficeCertificate.created_at, OfficeCertificate.id)).scalars().all()
        used = _accounts_of(session, access.tenant_id)
        items = [_out(r, now, used.get(r.id, [])) for r in rows]
    return CertificateList(items=items, warnings=[i.warning for i in items if i.warning])


@router.post("/certificates", status_code=status.HTTP_201_CREATED, response_model=CertificateOut,
             responses=PROBLEMS)
async def upload_certificate(file: Pkcs12, password: Password, label: Label, request: Request,
                             p: TenantPrincipal, access: CanWrite, rt: Rt, response: Response,
                             is_default: Annotated[bool | None, Form(
                                 description="テナントの既定にする (省略時: 最初の証明書なら既定)")] = None,
                             ) -> CertificateOut:
    """Upload an office certificate as PKCS#12 (multipart/form-data: `file`, `password`, `label`,
    optional `is_default`). Checked: the password opens it, an RSA key of 2048 bits or more, a
    certificate in its validity period, the key belongs to the certificate. The private key is
    kept re-encrypted at rest; the file and its password are not kept."""
    _account_admin(access)
    data = await _read(file, request)
    egov = context.of(rt).egov
    now = egov.clock.now()
    parsed = certificates.parse_pkcs12(data, password, now)
    with rt.transaction() as session:
        row = certificates.add(session, egov.keys, access.tenant_id, label, parsed, is_default,
                               actor_of(p, request), now)
        out = _out(row, now, [])
    rt.relay.notify()
    response.headers["Location"] = f"{router.prefix}/certificates/{out.id}"
    _etag(response, out.version)
    return out


@router.put("/certificates/{certificate_id}", response_model=CertificateOut, responses=PROBLEMS)
async def replace_certificate(certificate_id: str, request: Request, p: TenantPrincipal, access: CanWrite, rt: Rt,
                              response: Response, if_match: IfMatch = None,
                              file: Annotated[UploadFile | None, File(description="更新した証明書 (PKCS#12)")] = None,
                              password: Annotated[str | None, Form(max_length=256, description=(
                                  "PKCS#12 ファイルのパスワード (保存しません)"))] = None) -> CertificateOut:
    """Replace a certificate with its renewal (multipart: `file`, `password`; same rules as the
    upload); the e-Gov accounts that use it keep using it. `If-Match` with the certificate's ETag.
    Another tenant's id (or a missing one) is 404 before the file is looked at."""
    _account_admin(access)
    egov = context.of(rt).egov
    now = egov.clock.now()
    with rt.db.sessions() as session:
        certificates.in_tenant(session, access.tenant_id, certificate_id)
    missing = [{"field": f"body.{n}", "message": "必須項目です", "code": "missing"}
               for n, v in (("file", file), ("password", password)) if v is None]
    if missing or file is None or password is None:
        raise ProblemError(422, "validation", "入力内容に誤りがあります", errors=missing)
    data = await _read(file, request)
    parsed = certificates.parse_pkcs12(data, password, now)
    with rt.transaction() as session:
        row = certificates.in_tenant(session, access.tenant_id, certificate_id)
        if service.expected_version(if_match) != row.version:
            raise service.STALE
        certificates.replace(session, egov.keys, row, parsed, actor_of(p, request), now)
        session.flush()
        out = _out(row, now, _accounts_of(session, access.tenant_id).get(row.id, []))
    rt.relay.notify()
    _etag(response, out.version)
    return out


@router.patch("/certificates/{certificate_id}", response_model=CertificateOut, responses=PROBLEMS)
def update_certificate(certificate_id: str, body: CertificatePatch, access: CanWrite, rt: Rt, response: Response,
                       if_match: IfMatch = None) -> CertificateOut:
    """Rename a certificate or make it the tenant's default (`is_default`)."""
    _account_admin(access)
    now = context.of(rt).egov.clock.now()
    with rt.transaction() as session:
        row = certificates.in_tenant(session, access.tenant_id, certificate_id)
        if service.expected_version(if_match) != row.version:
            raise service.STALE
        certificates.update_settings(session, row, body.label, body.is_default, now)
        session.flush()
        out = _out(row, now, _accounts_of(session, access.tenant_id).get(row.id, []))
    _etag(response, out.version)
    return out


@router.delete("/certificates/{certificate_id}", status_code=status.HTTP_204_NO_CONTENT, responses=PROBLEMS)
def delete_certificate(certificate_id: str, p: TenantPrincipal, access: CanWrite, rt: Rt, request: Request,
                       if_match: IfMatch = None) -> Response:
    """Delete a certificate and its key; the e-Gov accounts that used it fall back to the default."""
    _account_admin(access)
    with rt.transaction() as session:
        row = certificates.in_tenant(session, access.tenant_id, certificate_id)
        if service.expected_version(if_match) != row.version:
            raise service.STALE
        certificates.remove(session, row, actor_of(p, request))
    rt.relay.notify()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/egov-accounts/{account_id}/certificate", response_model=EgovAccountOut, responses=PROBLEMS)
def choose_certificate(account_id: str, body: AccountCertificateIn, access: CanWrite, rt: Rt, response: Response,
                       if_match: IfMatch = None) -> EgovAccountOut:
    """The certificate packages sent with this e-Gov account are signed with (`null`: the tenant's
    default). `If-Match` with the account's ETag."""
    _account_admin(access)
    with rt.transaction() as session:
        account = account_for_update(session, access, account_id, if_match)
        certificates.choose_for_account(session, account, body.certificate_id)
        session.flush()
        out = EgovAccountOut.model_validate(account)
    _etag(response, out.version)
    return out
