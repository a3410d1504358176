"""TOTP enrolment, confirmation, verification at login and the administrator's reset.

Secrets are sealed (AES-256-GCM, shared.crypto) with the user id as associated data, so a
sealed secret copied onto another user's row does not open."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import segno
from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.auth import events, repository
from services.auth.context import AuthContext
from services.auth.models import Credential, RecoveryCode, TenantRef, messaging
from services.auth.rules import totp as rules
from shared.errors import ProblemError
from shared.events import Actor

NO_PENDING = ProblemError(409, "totp-not-started", "二要素認証の登録が開始されていません",
                          "登録を開始してから確認コードを入力してください")
BAD_CODE = ProblemError(422, "totp-invalid-code", "確認コードが正しくありません",
                        "認証アプリに表示されている6桁のコードを入力してください")
ALREADY = ProblemError(409, "totp-already-enrolled", "二要素認証は登録済みです",
                       "登録し直すには管理者にリセットを依頼してください")


@dataclass(frozen=True)
class Enrolment:
    otpauth_uri: str
    qr_png_data_uri: str
    secret: str  # for typing into an app that cannot scan


def _seal(ctx: AuthContext, cred: Credential, secret: str) -> str:
    return ctx.data_keys.seal(secret.encode(), cred.user_id.encode())


def _open(ctx: AuthContext, cred: Credential, sealed: str) -> str:
    return ctx.data_keys.open(sealed, cred.user_id.encode()).decode()


def start(session: Session, ctx: AuthContext, cred: Credential) -> Enrolment:
    if cred.totp_secret:
        raise ALREADY
    secret = rules.new_secret()
    cred.totp_pending_secret = _seal(ctx, cred, secret)
    tenant = session.get(TenantRef, cred.tenant_id)
    account = f"{tenant.code if tenant else cred.tenant_id}:{cred.login_id}"
    uri = rules.provisioning_uri(secret, account, ctx.settings.totp_issuer)
    qr = segno.make(uri, error="m").png_data_uri(scale=5, border=2)
    return Enrolment(uri, qr, secret)


def confirm(session: Session, ctx: AuthContext, cred: Credential, code: str, actor: Actor) -> list[str]:
    """The first code proves the app holds the secret; answers the 10 recovery codes, once."""
    if cred.totp_secret:
        raise ALREADY
    if not cred.totp_pending_secret:
        raise NO_PENDING
    secret = _open(ctx, cred, cred.totp_pending_secret)
    step = rules.match_step(secret, code, ctx.clock.now(), None)
    if step is None:
        raise BAD_CODE
    cred.totp_secret, cred.totp_pending_secret = cred.totp_pending_secret, None
    cred.totp_last_step, cred.totp_enrolled_at = step, ctx.clock.now()
    codes = new_recovery_codes(session, cred)
    messaging.record(session, events.totp_enrolled(cred.tenant_id, cred.user_id, actor, len(codes)))
    return codes


def new_recovery_codes(session: Session, cred: Credential) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == cred.user_id))
    codes = rules.new_recovery_codes()
    for c in codes:
        session.add(RecoveryCode(id=str(uuid.uuid4()), user_id=cred.user_id, code_hash=rules.hash_recovery_code(c)))
    return codes


def verify(session: Session, ctx: AuthContext, cred: Credential, code: str | None,
           recovery_code: str | None) -> tuple[str | None, str]:
    """(None, method) when accepted, else (failure reason, "")."""
    now = ctx.clock.now()
    if code:
        assert cred.totp_secret
        secret = _open(ctx, cred, cred.totp_secret)
        step = rules.match_step(secret, code, now, cred.totp_last_step)
        if step is None:
            return ("totp_replayed" if rules.is_replay(secret, code, now, cred.totp_last_step) else "bad_totp"), ""
        cred.totp_last_step = step
        return None, "password+totp"
    if recovery_code:
        row = repository.unused_recovery_code(session, cred.user_id, rules.hash_recovery_code(recovery_code))
        if row is None:
            return "bad_recovery_code", ""
        row.used_at = now
        return None, "password+recovery_code"
    return "bad_totp", ""


def reset(session: Session, cred: Credential, actor: Actor) -> None:
    """The administrator's reset: the user enrols again (at next login if the tenant requires it)."""
    cred.totp_secret = cred.totp_pending_secret = None
    cred.totp_enrolled_at = cred.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == cred.user_id))
    messaging.record(session, events.totp_reset(cred.tenant_id, cred.user_id, actor))


def remaining_recovery_codes(session: Session, cred: Credential) -> int:
    return sum(1 for r in repository.recovery_codes(session, cred.user_id) if r.used_at is None)
