"""Request and response bodies of the koyo_hoken API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Full-width katakana, the long-vowel mark and the middle dot (foreign names). Half-width kana
# is refused: e-Gov rejects it, so it is caught here rather than at filing time.
KATAKANA = r"^[ァ-ヺー・]+$"
# Ids of other services' records (the 事業所 of accounts) are opaque strings to this service.
REF_ID = r"^[A-Za-z0-9-]{1,36}$"

Kana = Annotated[str, Field(min_length=1, max_length=50, pattern=KATAKANA)]
Name = Annotated[str, Field(min_length=1, max_length=50)]



class InsuredPersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    family_name: Name = Field(examples=["山田"])
    given_name: Name = Field(examples=["太郎"])
    family_name_kana: Kana = Field(examples=["ヤマダ"])
    given_name_kana: Kana = Field(examples=["タロウ"])
    birth_date: date = Field(examples=["1990-04-01"])
    hire_date: date = Field(description="雇用開始日 (employment start)", examples=["2026-04-01"])
    weekly_hours: Decimal = Field(ge=0, le=168, max_digits=5, decimal_places=2,
                                  description="週の所定労働時間", examples=["40"])

    @model_validator(mode="after")
    def _born_before_hired(self) -> InsuredPersonCreate:
        if self.hire_date <= self.birth_date:
            raise ValueError("雇用開始日は生年月日より後の日付にしてください")
        return self


class InsuredPersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    jigyosho_id: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date
    hire_date: date
    weekly_hours: Decimal
    status: str
    created_at: datetime
    version: int


class InsuredPersonPage(BaseModel):
    items: list[InsuredPersonOut]
    total: int
    limit: int
    offset: int
