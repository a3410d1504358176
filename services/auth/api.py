"""Routes of the login flow, tokens and the JWKS (public: no bearer token needed)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from services.auth import certificates, cookies, login, partners, records, sessions, totp_service
from services.auth.deps import Ctx, Rt, client_ip, user_agent
from services.auth.login import Outcome
from services.auth.schemas import (
    ChallengeCodeRequest,
    ChallengeRequest,
    LoginRequest,
    LoginResponse,
    OAuthToken,
    PasswordStepRequest,
    PreviousLogin,
    RefreshRequest,
    TokenResponse,
    TotpEnrolment,
    TotpStepRequest,
)
from shared.errors import ProblemError, problem_response, problem_responses
from shared.schema_types import one_of
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("auth"), tags=["auth"])

STATUS = {"totp": "totp_required", "password_change": "password_change_required",
          "totp_enrolment": "totp_enrolment_required"}


def _client(request: Request) -> login.Client:
    return login.Client(client_ip(request), user_agent(request),
                        request.headers.get(certificates.CERT_HEADER),
                        request.headers.get(certificates.GATEWAY_TOKEN_HEADER))


def _cookie(request: Request, response: Response, answer: LoginResponse) -> LoginResponse:
    """In cookie mode (the console) the refresh token goes into its HttpOnly cookie, not the JSON."""
    answer.refresh_token = cookies.deliver(request, response, answer.refresh_token)
    return answer


def _answer(outcome: Outcome) -> LoginResponse:
    """Called after the transaction committed: a refusal's records and events are kept."""
    if not outcome.ok:
        if outcome.ip_refused:
            raise login.IP_NOT_ALLOWED
        if outcome.retry_after is not None:
            raise login.throttled(outcome.retry_after)
        raise login.REFUSED
    if outcome.stage is not None:
        return LoginResponse(status=STATUS[outcome.stage], challenge=outcome.challenge)
    t = outcome.tokens
    assert t is not None
    prev = outcome.previous
    return LoginResponse(access_token=t.access_token, refresh_token=t.refresh_token, expires_in=t.expires_in,
                         session_id=t.session_id, recovery_codes=outcome.extra.get("recovery_codes"),
                         previous_login=PreviousLogin(at=prev.at, ip=prev.ip, user_agent=prev.user_agent)
                         if prev else None)


@router.post("/login", response_model=LoginResponse,
             responses=problem_responses(401, 403, 413, 422, 429))
def post_login(body: LoginRequest, request: Request, rt: Rt, ctx: Ctx,
               response: Response) -> LoginResponse:
    """Log in with tenant code, login id and password. Answers the tokens, or the next step
    (`totp_required`, `password_change_required`, `totp_enrolment_required`) with a challenge."""
    with rt.transaction() as session:
        outcome = login.password_step(session, ctx, body.tenant_code, body.login_id, body.password,
                                      _client(request))
    return _cookie(request, response, _answer(outcome))


@router.post("/login/totp", response_model=LoginResponse,
             responses=problem_responses(401, 403, 413, 422, 429))
def post_login_totp(body: TotpStepRequest, request: Request, rt: Rt, ctx: Ctx,
                    response: Response) -> LoginResponse:
    """Second step: the authenticator app's code, or one of the recovery codes (each works once)."""
    with rt.transaction() as session:
        outcome = login.totp_step(session, ctx, body.challenge, body.code, body.recovery_code, _client(request))
    return _cookie(request, response, _answer(outcome))


@router.post("/login/password", response_model=LoginResponse,
             responses=problem_responses(401, 403, 413, 422, 429))
def post_login_password(body: PasswordStepRequest, request: Request, rt: Rt, ctx: Ctx,
                        response: Response) -> LoginResponse:
    """The change a reset (or a password no longer allowed) requires before going on."""
    with rt.transaction() as session:
        outcome = login.password_change_step(session, ctx, body.challenge, body.new_password, _client(request))
    return _cookie(request, response, _answer(outcome))


@router.post("/login/totp-enrolment", response_model=TotpEnrolment,
             responses=problem_responses(401, 403, 409, 413, 429))
def post_login_totp_enrolment(body: ChallengeRequest, request: Request, rt: Rt, ctx: Ctx) -> TotpEnrolment:
    """The tenant requires TOTP and the user has none: start enrolment (URI and QR code)."""
    with rt.transaction() as session:
        got = login.totp_enrolment_start(session, ctx, body.challenge, _client(request))
        enrolment = totp_service.start(session, ctx, got.cred) if isinstance(got, login.Challenged) else None
    if enrolment is None:
        assert isinstance(got, Outcome)
        _answer(got)
        raise login.REFUSED
    return TotpEnrolment(otpauth_uri=enrolment.otpauth_uri, qr_png=enrolment.qr_png_data_uri,
                         secret=enrolment.secret)


@router.post("/login/totp-enrolment/confirm", response_model=LoginResponse,
             responses=problem_responses(401, 403, 409, 413, 422, 429))
def post_login_totp_confirm(body: ChallengeCodeRequest, request: Request, rt: Rt, ctx: Ctx,
                            response: Response) -> LoginResponse:
    """Confirm enrolment with a first code: logged in, and the recovery codes shown once."""
    with rt.transaction() as session:
        outcome = login.totp_enrolment_confirm(session, ctx, body.challenge, body.code, _client(request))
    return _cookie(request, response, _answer(outcome))


@router.post("/token/refresh", response_model=TokenResponse, responses=problem_responses(401, 403, 413, 422, 429))
def post_refresh(body: RefreshRequest, request: Request, response: Response, rt: Rt, ctx: Ctx) -> TokenResponse:
    """A new access token and a new refresh token; the old refresh token is spent. Presenting a
    spent one ends the session (all its tokens). An unknown token counts as a failed login of the
    source address (throttled like the login). In cookie mode (`X-Token-Mode: cookie`, required with
    the cookie: CSRF) the refresh token comes from and goes back to its cookie."""
    token = cookies.presented(request, body.refresh_token)
    if token is None:
        raise cookies.ended(request, sessions.SESSION_ENDED)
    client = _client(request)
    with rt.transaction() as session:
        retry = login.retry_after(session, ctx, client)
        outcome = sessions.refresh(session, ctx, token, client.ip, body.tenant_code) if retry is None else None
        if outcome is not None and outcome.unknown:
            records.login_failed(session, ctx.clock.now(), None, None, "bad_refresh_token", client.ip,
                                 client.user_agent)
    if retry is not None:
        raise login.throttled(retry)
    assert outcome is not None
    if outcome.ip_refused:
        raise login.IP_NOT_ALLOWED
    if outcome.tokens is None:
        raise cookies.ended(request, sessions.SESSION_ENDED)
    t = outcome.tokens
    return TokenResponse(access_token=t.access_token, refresh_token=cookies.deliver(request, response, t.refresh_token),
                         expires_in=t.expires_in, session_id=t.session_id)


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, pw = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise partners.INVALID_CLIENT from exc
    return user, pw


class OAuthRoute(APIRoute):
    """RFC 6749 5.2: a token request with a field missing or malformed is 400 `invalid_request`,
    not the 422 every other route answers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
                return problem_response(400, "invalid-request", "リクエストが正しくありません",
                                        "必要な項目がないか、形式が正しくありません: " + ", ".join(fields),
                                        instance=request.url.path, extra={"error": "invalid_request"})

        return handle


# The gateway's limits of the token endpoint (tests/contracts checks them against its settings).
TOKEN_LIMITS = ("クライアント (client_id) ごとに 60 回/分・1000 回/時 (ゲートウェイの ROUMU_GATEWAY_RATE_LIMIT_TOKEN)。"  # noqa: S105
                "誤ったシークレットは送信元 IP ごとにも数え、続くと 429 (Retry-After)。")


def post_oauth_token(
    request: Request, rt: Rt, ctx: Ctx,
    grant_type: Annotated[str, Form(), one_of(["client_credentials"], "GrantType")],
    scope: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> OAuthToken:
    """OAuth2 client credentials for partner systems (HTTP Basic or form fields)."""
    if grant_type != "client_credentials":
        raise ProblemError(400, "unsupported-grant-type", "対応していない grant_type です",
                                    extra={"error": "unsupported_grant_type"})
    creds = _basic(request) or (client_id, client_secret)
    if not creds[0] or not creds[1]:
        raise partners.INVALID_CLIENT
    client = _client(request)
    tok = None
    with rt.transaction() as session:
        retry = login.retry_after(session, ctx, client)
        if retry is None:
            try:
                tok = partners.token(session, ctx, creds[0], creds[1], scope)
            except ProblemError as exc:
                if exc is not partners.INVALID_CLIENT:
                    raise
                # A wrong client secret is a failed login of the source (nothing was written yet).
                records.login_failed(session, ctx.clock.now(), None, None, "bad_client_secret", client.ip,
                                     client.user_agent)
    if retry is not None:
        raise login.throttled(retry)
    if tok is None:
        raise partners.INVALID_CLIENT
    return OAuthToken(access_token=tok.access_token, expires_in=tok.expires_in, scope=tok.scope)


router.add_api_route(
    "/oauth/token", post_oauth_token, methods=["POST"], response_model=OAuthToken,
    responses=problem_responses(400, 401, 413, 429), route_class_override=OAuthRoute, description=(
        "OAuth2 client credentials for partner systems (HTTP Basic or form fields). 必須項目がない・形式が違う: "
        "400 `invalid_request`; grant_type が client_credentials 以外: 400 `unsupported_grant_type`. "
        "レート制限: " + TOKEN_LIMITS),
    openapi_extra={"x-roumu-validation-status": 400, "x-roumu-rate-limits": {
        "per_client_id": ["60/minute", "1000/hour"], "failures_per_source_address": True}})


@router.get("/.well-known/jwks.json")
def jwks(rt: Rt) -> dict[str, Any]:
    """Public keys that verify access tokens. Rotation: the new key is listed before it signs
    (it signs once it is in the folder), old keys stay listed until their tokens have expired."""
    data = json.loads((rt.settings.keys_dir / "jwks.json").read_text())
    return {"keys": [{k: v for k, v in key.items() if k != "roumu_use"}
                     for key in data["keys"] if key.get("roumu_use") == "access"]}
