"""Request and response bodies of the jimukumiai API."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Ids of other services' records (the 事業所 of accounts) are opaque strings to this service.
REF_ID = r"^[A-Za-z0-9-]{1,36}$"

# Forms print the number as 13-1-01-123456-000; people paste it that way, so separators go.
_SEPARATORS = re.compile(r"[-‐－―ー\s]")



class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    name: str = Field(min_length=1, max_length=200, description="事業主の名称", examples=["株式会社山田製作所"])
    labour_insurance_number: str = Field(
        pattern=r"^[0-9]{14}$",
        description="労働保険番号: 府県2+所掌1+管轄2+基幹番号6+枝番号3 (14 digits; hyphens are removed)",
        examples=["13101123456000"],
    )
    entrusted_from: date = Field(description="委託開始日", examples=["2026-04-01"])

    @field_validator("labour_insurance_number", mode="before")
    @classmethod
    def _strip_separators(cls, v: object) -> object:
        # Only separators and full-width digits are normalised; the pattern then checks the rest.
        if isinstance(v, str):
            return _SEPARATORS.sub("", v).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        return v


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    jigyosho_id: str
    name: str
    labour_insurance_number: str
    entrusted_from: date
    status: str
    created_at: datetime
    version: int


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int
