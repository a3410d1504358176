"""Queries of the auth service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.auth.models import (
    AuthSession,
    Credential,
    DeviceCertificate,
    Lockout,
    LoginEvent,
    PartnerClient,
    PasswordHistory,
    RecoveryCode,
    TenantRef,
)


def tenant_by_code(session: Session, code: str) -> TenantRef | None:
    return session.execute(select(TenantRef).where(TenantRef.code == code)).scalar_one_or_none()


def credential(session: Session, tenant_id: str, login_id: str, lock: bool = False) -> Credential | None:
    """`lock`: FOR UPDATE (PostgreSQL), so concurrent logins of one user wait for each other instead
    of one failing on the version check (a 500) or losing a failure count."""
    q = select(Credential).where(Credential.tenant_id == tenant_id, Credential.login_id == login_id)
    return session.execute(q.with_for_update() if lock else q).scalar_one_or_none()


def credential_in_tenant(session: Session, tenant_id: str, user_id: str) -> Credential | None:
    """Another tenant's user looks missing (404), never forbidden."""
    cred = session.get(Credential, user_id)
    return cred if cred is not None and cred.tenant_id == tenant_id else None


def password_history(session: Session, user_id: str) -> Sequence[PasswordHistory]:
    """Newest first."""
    return session.execute(
        select(PasswordHistory).where(PasswordHistory.user_id == user_id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
    ).scalars().all()


def source_failures_since(session: Session, ip: str, since: datetime) -> int:
    return int(session.execute(
        select(func.count()).select_from(LoginEvent)
        .where(LoginEvent.ip == ip, LoginEvent.at >= since, LoginEvent.outcome == "failed")
    ).scalar_one())


def open_lockout(session: Session, user_id: str) -> Lockout | None:
    return session.execute(
        select(Lockout).where(Lockout.user_id == user_id, Lockout.unlocked_at.is_(None))
        .order_by(Lockout.locked_at.desc()).limit(1)
    ).scalar_one_or_none()


def lockouts(session: Session, tenant_id: str, since: datetime, user_id: str | None = None) -> Sequence[Lockout]:
    q = select(Lockout).where(Lockout.tenant_id == tenant_id, Lockout.locked_at >= since)
    if user_id:
        q = q.where(Lockout.user_id == user_id)
    return session.execute(q.order_by(Lockout.locked_at.desc())).scalars().all()


def login_history(session: Session, user_id: str, since: datetime, limit: int) -> Sequence[LoginEvent]:
    return session.execute(
        select(LoginEvent).where(LoginEvent.user_id == user_id, LoginEvent.at >= since)
        .order_by(LoginEvent.at.desc()).limit(limit)
    ).scalars().all()


def user_sessions(session: Session, user_id: str, include_revoked: bool = False) -> Sequence[AuthSession]:
    q = select(AuthSession).where(AuthSession.user_id == user_id)
    if not include_revoked:
        q = q.where(AuthSession.revoked_at.is_(None))
    return session.execute(q.order_by(AuthSession.created_at.desc())).scalars().all()


def sessions_with_device(session: Session, tenant_id: str, serial: str) -> Sequence[AuthSession]:
    """Live sessions whose login presented this device certificate."""
    return session.execute(select(AuthSession).where(
        AuthSession.tenant_id == tenant_id, AuthSession.device_serial == serial, AuthSession.revoked_at.is_(None))
    ).scalars().all()


def unused_recovery_code(session: Session, user_id: str, code_hash: str) -> RecoveryCode | None:
    return session.execute(
        select(RecoveryCode).where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash,
                                   RecoveryCode.used_at.is_(None))
    ).scalar_one_or_none()


def recovery_codes(session: Session, user_id: str) -> Sequence[RecoveryCode]:
    return session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user_id)).scalars().all()


def device_certificates(session: Session, tenant_id: str) -> Sequence[DeviceCertificate]:
    return session.execute(
        select(DeviceCertificate).where(DeviceCertificate.tenant_id == tenant_id)
        .order_by(DeviceCertificate.issued_at.desc())
    ).scalars().all()


def device_certificate_by_fingerprint(session: Session, fingerprint: str) -> DeviceCertificate | None:
    return session.execute(
        select(DeviceCertificate).where(DeviceCertificate.fingerprint == fingerprint)
    ).scalar_one_or_none()


def partner_clients(session: Session, tenant_id: str) -> Sequence[PartnerClient]:
    return session.execute(
        select(PartnerClient).where(PartnerClient.tenant_id == tenant_id).order_by(PartnerClient.created_at)
    ).scalars().all()
