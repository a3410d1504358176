"""A tenant's security settings as the rules want them (defaults when accounts sent none)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from services.auth.models import TenantPolicy
from services.auth.rules.lockout import LockoutPolicy
from services.auth.rules.password_policy import PasswordPolicy


@dataclass(frozen=True)
class TenantSettings:
    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    totp_required: bool = False
    device_cert_required: bool = False
    ip_allowlist: tuple[str, ...] = ()


def tenant_settings(session: Session, tenant_id: str | None) -> TenantSettings:
    row = session.get(TenantPolicy, tenant_id) if tenant_id else None
    if row is None:
        return TenantSettings()
    return TenantSettings(
        password=PasswordPolicy.from_settings(row.password_policy),
        lockout=LockoutPolicy.from_settings(row.lockout_policy),
        totp_required=row.totp_required,
        device_cert_required=row.device_cert_required,
        ip_allowlist=tuple(row.ip_allowlist or ()),
    )
