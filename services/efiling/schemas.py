"""Request and response bodies of the efiling API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# Ids of other services' records (the 事業所 of accounts) are opaque strings to this service.
REF_ID = r"^[A-Za-z0-9-]{1,36}$"
# e-Gov 手続ID: 16 half-width alphanumerics (電子申請API v2, proc_id).
PROC_ID = r"^[0-9A-Za-z]{16}$"
# Idempotency-Key: visible ASCII only, since it is stored, compared and may be logged.
IDEMPOTENCY_KEY = r"^[\x21-\x7E]{1,100}$"



class FilingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    procedure_code: str = Field(pattern=PROC_ID, description="e-Gov 手続ID (proc_id)",
                                examples=["950A010002012000"])
    title: str = Field(min_length=1, max_length=200, examples=["雇用保険被保険者資格取得届 2026年4月入社分"])


class FilingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    jigyosho_id: str
    procedure_code: str
    title: str
    status: str
    created_at: datetime
    version: int
