"""Device certificates: the tenant's CA (key sealed at rest), issuing from a CSR, listing,
revoking, and the login check of a certificate the gateway forwarded.

The gateway terminates TLS and forwards the client certificate (`X-Roumu-Client-Cert`, URL-
encoded PEM) together with `X-Roumu-Gateway-Token`, a service token from "gateway" to "auth"
whose `cnf.x5t#S256` is the certificate's thumbprint. A certificate header without a matching
gateway token is ignored: nobody outside can claim a certificate they did not present."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from services.auth import ca, events, repository, sessions
from services.auth.context import AuthContext
from services.auth.models import DeviceCertificate, TenantCa, TenantRef, messaging
from shared.errors import ProblemError, not_found
from shared.events import Actor
from shared.tokens import TokenError

CERT_HEADER = "x-roumu-client-cert"
GATEWAY_TOKEN_HEADER = "x-roumu-gateway-token"  # noqa: S105 - a header name


def ensure_ca(session: Session, ctx: AuthContext, tenant_id: str) -> TenantCa:
    row = session.get(TenantCa, tenant_id)
    if row is None:
        tenant = session.get(TenantRef, tenant_id)
        cert_pem, key_pem = ca.new_ca(tenant_id, tenant.code if tenant else tenant_id, ctx.clock.now())
        row = TenantCa(tenant_id=tenant_id, cert_pem=cert_pem, created_at=ctx.clock.now(),
                       key_sealed=ctx.data_keys.seal(key_pem, f"ca:{tenant_id}".encode()))
        session.add(row)
        session.flush()
    return row


@dataclass(frozen=True)
class Issued:
    row: DeviceCertificate
    pem: str


def issue(session: Session, ctx: AuthContext, tenant_id: str, csr_pem: str, label: str, actor: Actor,
          days: int | None = None) -> Issued:
    authority = ensure_ca(session, ctx, tenant_id)
    key_pem = ctx.data_keys.open(authority.key_sealed, f"ca:{tenant_id}".encode())
    now = ctx.clock.now()
    try:
        cert = ca.sign_csr(csr_pem, authority.cert_pem, key_pem, tenant_id, label, now,
                           days or ctx.settings.device_cert_days)
    except ca.CsrError as exc:
        raise ProblemError(422, "invalid-csr", "証明書署名要求が正しくありません", str(exc)) from exc
    row = DeviceCertificate(serial=ca.serial_hex(cert), tenant_id=tenant_id, label=label,
                            fingerprint=ca.fingerprint(cert), not_before=cert.not_valid_before_utc,
                            not_after=cert.not_valid_after_utc, issued_at=now, issued_by=actor.id)
    session.add(row)
    messaging.record(session, events.device_certificate(events.DEVICE_CERT_ISSUED, tenant_id, row.serial, actor,
                                                        label, row.not_after))
    return Issued(row, cert.public_bytes(serialization.Encoding.PEM).decode())


def revoke(session: Session, ctx: AuthContext, tenant_id: str, serial: str, actor: Actor) -> DeviceCertificate:
    row = session.get(DeviceCertificate, serial)
    if row is None or row.tenant_id != tenant_id:
        raise not_found()
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = ctx.clock.now(), actor.id
        messaging.record(session, events.device_certificate(events.DEVICE_CERT_REVOKED, tenant_id, serial, actor,
                                                            row.label, row.not_after))
        # The device is no longer trusted: neither are the sessions it logged in (in every service,
        # through roumu.auth.session.revoked).
        for s in repository.sessions_with_device(session, tenant_id, serial):
            sessions.revoke(session, row.revoked_at, s, actor, "device_certificate_revoked")
    return row


def check_presented(session: Session, ctx: AuthContext, tenant_id: str, cert_header: str | None,
                    gateway_token: str | None) -> str | None:
    """None when the forwarded certificate is one of this tenant's valid device certificates;
    else the reason (recorded on the failed login, never shown to the caller)."""
    return _check(session, ctx, tenant_id, cert_header, gateway_token)[0]


def presented_serial(session: Session, ctx: AuthContext, tenant_id: str, cert_header: str | None,
                     gateway_token: str | None) -> str | None:
    """The serial of the valid device certificate this request presented, if any: the session it
    begins is tied to it (revoking the certificate ends the session)."""
    if not cert_header:
        return None
    reason, row = _check(session, ctx, tenant_id, cert_header, gateway_token)
    return row.serial if reason is None and row is not None else None


def _check(session: Session, ctx: AuthContext, tenant_id: str, cert_header: str | None,
           gateway_token: str | None) -> tuple[str | None, DeviceCertificate | None]:
    """(None, the certificate's row) when valid, else (the reason, None)."""
    if not cert_header:
        return "device_certificate_missing", None
    try:
        cert = x509.load_pem_x509_certificate(unquote(cert_header).encode())
    except ValueError:
        return "device_certificate_untrusted", None
    if not gateway_token:
        return "device_certificate_untrusted", None
    try:
        p = ctx.verifier.verify_service(gateway_token, audience="auth")
    except TokenError:
        return "device_certificate_untrusted", None
    cnf = p.claims.get("cnf")
    bound = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
    if p.subject != "gateway" or not bound or not secrets.compare_digest(str(bound), ca.thumbprint_s256(ca.der(cert))):
        return "device_certificate_untrusted", None
    authority = session.get(TenantCa, tenant_id)
    if authority is None or not ca.issued_by(cert, authority.cert_pem):
        return "device_certificate_foreign", None
    row = repository.device_certificate_by_fingerprint(session, ca.fingerprint(cert))
    if row is None or row.tenant_id != tenant_id:
        return "device_certificate_foreign", None
    if row.revoked_at is not None:
        return "device_certificate_revoked", None
    now = ctx.clock.now()
    # Certificates start five minutes early for clock skew (ca.sign_csr); no tolerance beyond.
    if not (row.not_before <= now < row.not_after):
        return "device_certificate_expired", None
    return None, row
