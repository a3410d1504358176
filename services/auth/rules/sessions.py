"""Session lifetime (ASVS 3.3.2 at L2: re-authenticate after 12 hours, or 30 minutes idle).

A session is one login on one device; its refresh tokens form one family, rotated on every
use. Presenting a rotated (old) refresh token means it was stolen or replayed: the whole family
is revoked (OAuth 2.0 Security BCP §4.14)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

SessionStatus = Literal["active", "revoked", "idle_expired", "expired"]


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


def status(created_at: datetime, last_used_at: datetime, revoked_at: datetime | None, now: datetime,
           policy: SessionPolicy) -> SessionStatus:
    if revoked_at is not None:
        return "revoked"
    if now >= created_at + policy.absolute:
        return "expired"
    if now >= last_used_at + policy.idle:
        return "idle_expired"
    return "active"


def hash_token(token: str) -> str:
    """Refresh tokens and client secrets are 256 random bits: stored as SHA-256, never as is."""
    return hashlib.sha256(token.encode()).hexdigest()
