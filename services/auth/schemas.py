"""Request and response bodies of the auth API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_code: str = Field(min_length=1, max_length=32, examples=["demo"])
    login_id: str = Field(min_length=1, max_length=64, examples=["admin"])
    password: str = Field(min_length=1, max_length=256)


class PreviousLogin(BaseModel):
    at: datetime
    ip: str | None


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    previous_login: PreviousLogin | None = Field(
        description="前回ログイン日時と接続元 (the sheet's 最終ログイン日時)")
