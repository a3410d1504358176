"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TenantKind = Literal["sharoushi", "jimukumiai", "both"]
Role = Literal["tenant_admin", "staff"]

# Login ids end up in URLs, logs and CSVs: keep them plain.
LOGIN_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"
TENANT_CODE = r"^[a-z0-9][a-z0-9-]{2,31}$"


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=TENANT_CODE, examples=["sato-sr"])
    name: str = Field(min_length=1, max_length=200, examples=["佐藤社会保険労務士事務所"])
    kind: TenantKind
    contract_start: date
    contract_end: date | None = None


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: str
    kind: TenantKind
    status: str
    contract_start: date
    contract_end: date | None
    created_at: datetime
    version: int


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login_id: str = Field(pattern=LOGIN_ID, examples=["tanaka"])
    display_name: str = Field(min_length=1, max_length=100, examples=["田中 花子"])
    roles: list[Role] = Field(default_factory=lambda: list[Role](["staff"]), min_length=1)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    login_id: str
    display_name: str
    roles: list[str]
    status: str
    created_at: datetime
    version: int
