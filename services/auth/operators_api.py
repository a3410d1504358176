"""The operators' sign-in route (issue 24). Thin: parse, sign in, answer after the commit so a
refusal's history row and event are kept."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.auth import operators
from services.auth.deps import Ctx, Rt, client_ip, user_agent
from services.auth.schemas import OperatorLoginRequest, OperatorToken
from shared.errors import problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("auth"), tags=["operators"])


@router.post("/operators/login", response_model=OperatorToken, responses=problem_responses(401, 403, 422, 429))
def operator_login(body: OperatorLoginRequest, request: Request, rt: Rt, ctx: Ctx) -> OperatorToken:
    """Sign in as a system operator: name, password and TOTP code, from the operator allowlist
    (ROUMU_AUTH_OPERATOR_ALLOWLIST) only. The access token is the operator token the operator
    routes accept, valid ROUMU_AUTH_OPERATOR_TOKEN_TTL_SECONDS, without refresh."""
    with rt.transaction() as session:
        got = operators.sign_in(session, ctx, body.name, body.password, body.code, client_ip(request),
                                user_agent(request))
    if isinstance(got, operators.Refusal):
        raise got.error
    return OperatorToken(access_token=got.access_token, expires_in=got.expires_in, session_id=got.session_id)
