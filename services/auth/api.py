"""Routes of the auth service."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from services.auth import service
from services.auth.schemas import LoginRequest, LoginResponse, PreviousLogin
from shared.errors import problem_responses
from shared.service_app import Runtime, runtime
from shared.tokens import TokenSigner
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("auth"), tags=["auth"])
Rt = Annotated[Runtime, Depends(runtime)]


def client_ip(request: Request) -> str | None:
    # Set by the gateway, which strips any copy sent from outside.
    return request.headers.get("x-roumu-client-ip") or (request.client.host if request.client else None)


@router.post("/login", response_model=LoginResponse, responses=problem_responses(401, 422))
def login(body: LoginRequest, request: Request, rt: Rt) -> LoginResponse:
    """Log in with tenant code, login id and password; answers an access token and the previous login."""
    signer: TokenSigner = rt.extras["signer"]
    with rt.transaction() as session:
        result = service.login(session, signer, body.tenant_code, body.login_id, body.password,
                               client_ip(request))
    if result is None:
        raise service.LOGIN_REFUSED
    previous = PreviousLogin(at=result.previous_at, ip=result.previous_ip) if result.previous_at else None
    return LoginResponse(access_token=result.token, expires_in=result.expires_in, previous_login=previous)


@router.get("/.well-known/jwks.json")
def jwks(rt: Rt) -> dict[str, Any]:
    """Public keys that verify access tokens (rotation: old and new are listed)."""
    data = json.loads((rt.settings.keys_dir / "jwks.json").read_text())
    return {"keys": [k for k in data["keys"] if k.get("roumu_use") == "access"]}
