"""The user's own routes: who am I, logout, sessions, login history, password, TOTP."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from services.auth import cookies, login, passwords_service, repository, sessions, totp_service
from services.auth.deps import Ctx, CurrentSession, Rt, UserSession, client_ip, user_agent
from services.auth.models import AuthSession, Credential
from services.auth.rules.retention import kept_since
from services.auth.schemas import (
    LoginHistoryItem,
    Me,
    PasswordChanged,
    PasswordChangeRequest,
    PreviousLogin,
    RecoveryCodes,
    RevokedCount,
    SessionItem,
    TotpConfirmRequest,
    TotpEnrolment,
)
from shared.errors import ProblemError, not_found, problem_responses
from shared.events import Actor
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("auth"), tags=["auth: me"])

WRONG_CURRENT = ProblemError(422, "current-password-invalid", "現在のパスワードが正しくありません",
                             errors=[{"field": "current_password", "code": "invalid",
                                      "message": "現在のパスワードが正しくありません"}])


def _actor(us: UserSession, request: Request) -> Actor:
    return Actor(kind="user", id=us.user_id, ip=client_ip(request))


def _cred(session: Session, us: UserSession, lock: bool = False) -> Credential:
    cred = session.get(Credential, us.user_id, with_for_update=lock)
    if cred is None:
        raise sessions.SESSION_ENDED
    return cred


@router.get("/me", response_model=Me, responses=problem_responses(401))
def me(us: CurrentSession, rt: Rt, ctx: Ctx) -> Me:
    """The caller, with the previous login (the sheet's 最終ログイン日時) as shown at login."""
    s = us.session
    with rt.db.transaction() as session:
        cred = _cred(session, us)
        left = totp_service.remaining_recovery_codes(session, cred)
    prev = PreviousLogin(at=s.previous_login_at, ip=s.previous_login_ip, user_agent=s.previous_login_user_agent) \
        if s.previous_login_at else None
    return Me(user_id=cred.user_id, tenant_id=cred.tenant_id, login_id=cred.login_id, roles=cred.roles,
              session_id=s.id, previous_login=prev, totp_enabled=cred.totp_secret is not None,
              recovery_codes_left=left, password_changed_at=cred.password_changed_at,
              # The session policy auth enforces, so the console can warn before it and sign out at it.
              idle_timeout_seconds=int(ctx.session_policy.idle.total_seconds()),
              idle_warning_seconds=min(ctx.settings.idle_warning_seconds,
                                       int(ctx.session_policy.idle.total_seconds()) // 2))


@router.post("/logout", status_code=204, responses=problem_responses(401))
def logout(us: CurrentSession, request: Request, rt: Rt, ctx: Ctx) -> Response:
    """Ends this session: its refresh token at once, its access token here at once and in other
    services as soon as they see roumu.auth.session.revoked."""
    with rt.transaction() as session:
        s = session.get(AuthSession, us.session.id)
        assert s is not None
        sessions.revoke(session, ctx.clock.now(), s, _actor(us, request), "logout")
    response = Response(status_code=204)
    cookies.clear(request, response)
    return response


@router.get("/me/sessions", response_model=list[SessionItem], responses=problem_responses(401))
def my_sessions(us: CurrentSession, rt: Rt, ctx: Ctx) -> list[SessionItem]:
    with rt.db.transaction() as session:
        rows = sessions.active_list(session, ctx, us.user_id)
    return [SessionItem(id=s.id, created_at=s.created_at, last_used_at=s.last_used_at, ip=s.ip,
                        user_agent=s.user_agent, method=s.method, current=s.id == us.session.id) for s in rows]


@router.delete("/me/sessions/{session_id}", status_code=204, responses=problem_responses(401, 404))
def end_session(session_id: str, us: CurrentSession, request: Request, rt: Rt, ctx: Ctx) -> Response:
    with rt.transaction() as session:
        s = session.get(AuthSession, session_id)
        if s is None or s.user_id != us.user_id:
            raise not_found()
        sessions.revoke(session, ctx.clock.now(), s, _actor(us, request), "ended_by_user")
    return Response(status_code=204)


@router.post("/me/sessions/end-others", response_model=RevokedCount, responses=problem_responses(401))
def end_other_sessions(us: CurrentSession, request: Request, rt: Rt, ctx: Ctx) -> RevokedCount:
    """Every session but this one (ASVS 3.3.4; offered after a password change, 3.3.3)."""
    with rt.transaction() as session:
        n = sessions.revoke_all(session, ctx.clock.now(), us.user_id, _actor(us, request), "ended_by_user",
                                keep=us.session.id)
    return RevokedCount(revoked=n)


@router.get("/me/login-history", response_model=list[LoginHistoryItem], responses=problem_responses(401))
def my_login_history(us: CurrentSession, rt: Rt, ctx: Ctx,
                     limit: int = Query(default=100, ge=1, le=500)) -> list[LoginHistoryItem]:
    """The caller's own logins, failures and lockouts of the last year."""
    since = kept_since(ctx.clock.now(), ctx.settings.retention_years)
    with rt.db.transaction() as session:
        rows = repository.login_history(session, us.user_id, since, limit)
    return [LoginHistoryItem(at=r.at, outcome=r.outcome, reason=r.reason, method=r.method, ip=r.ip,
                             user_agent=r.user_agent) for r in rows]


@router.post("/me/password", response_model=PasswordChanged, responses=problem_responses(401, 422, 429))
def change_password(body: PasswordChangeRequest, us: CurrentSession, request: Request, rt: Rt,
                    ctx: Ctx) -> PasswordChanged:
    """Change one's password (re-entering the current one). Every other session of the user ends
    at once (`ended_sessions` says how many); this one goes on."""
    client = login.Client(client_ip(request), user_agent(request))
    with rt.transaction() as session:
        # Guesses of the current password are login failures: throttled per source, counted toward
        # the lockout and in the login history (issue 18.7). A locked account takes none.
        retry = login.retry_after(session, ctx, client)
        ok = False
        if retry is None:
            cred = _cred(session, us, lock=True)
            ok = ctx.passwords.verify(cred.password_hash, body.current_password) and \
                login.is_usable(session, ctx, cred, client)
            if not ok:
                login.count_failure(session, ctx, cred, "bad_current_password", client)
    if retry is not None:
        raise login.throttled(retry)
    if not ok:
        raise WRONG_CURRENT
    with rt.transaction() as session:
        cred = _cred(session, us)
        ended = passwords_service.change(session, ctx, cred, body.new_password, _actor(us, request),
                                         via="settings", forced=False, keep_session=us.session.id)
        others = [s for s in sessions.active_list(session, ctx, us.user_id) if s.id != us.session.id]
        changed_at = cred.password_changed_at
    assert changed_at is not None
    return PasswordChanged(changed_at=changed_at, other_sessions=len(others), ended_sessions=ended,
                           end_other_sessions=f"POST {api_prefix('auth')}/me/sessions/end-others")


@router.post("/me/totp/enrolment", response_model=TotpEnrolment, responses=problem_responses(401, 409))
def start_totp(us: CurrentSession, rt: Rt, ctx: Ctx) -> TotpEnrolment:
    """Start TOTP enrolment: an otpauth:// URI and its QR code; confirm with a first code."""
    with rt.transaction() as session:
        e = totp_service.start(session, ctx, _cred(session, us))
    return TotpEnrolment(otpauth_uri=e.otpauth_uri, qr_png=e.qr_png_data_uri, secret=e.secret)


@router.post("/me/totp/enrolment/confirm", response_model=RecoveryCodes, responses=problem_responses(401, 409, 422))
def confirm_totp(body: TotpConfirmRequest, us: CurrentSession, request: Request, rt: Rt,
                 ctx: Ctx) -> RecoveryCodes:
    """Confirm with the app's first code; answers the 10 single-use recovery codes, once."""
    with rt.transaction() as session:
        codes = totp_service.confirm(session, ctx, _cred(session, us), body.code, _actor(us, request))
    return RecoveryCodes(recovery_codes=codes)
