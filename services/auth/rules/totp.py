"""TOTP (RFC 6238) and recovery codes.

SHA-1, 6 digits, 30 s: what every authenticator app understands. ±1 step is accepted (clock
skew, Keycloak's look-around 1), and a step once used is never accepted again (ASVS 2.8.4), so a
code seen over a shoulder or replayed from a log is useless."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
_RECOVERY_LENGTH = 15  # ~74 bits: a fast hash is then as good as a slow one


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, RFC 4226's recommendation


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account,
                                                                                     issuer_name=issuer)


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def match_step(secret: str, code: str, now: datetime, last_used_step: int | None) -> int | None:
    """The step `code` belongs to, within ±WINDOW of now and after the last used one; else None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = step_at(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Compare every candidate (no early exit): timing tells nothing about which matched.
        if hmac.compare_digest(code_at(secret, step), code) and found is None:
            found = step
    if found is None or (last_used_step is not None and found <= last_used_step):
        return None
    return found


def is_replay(secret: str, code: str, now: datetime, last_used_step: int | None) -> bool:
    """The code is right but its step was already used: logged as a replay (ASVS 2.8.5)."""
    return last_used_step is not None and match_step(secret, code, now, None) is not None and \
        match_step(secret, code, now, last_used_step) is None


def new_recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    codes = []
    for _ in range(n):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i:i + 5] for i in range(0, _RECOVERY_LENGTH, 5)))
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def hash_recovery_code(code: str) -> str:
    """SHA-256 of the normalised code: ~74 random bits cannot be brute-forced from the hash,
    and a fast hash lets a login compare against all ten without ten argon2 runs."""
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()
