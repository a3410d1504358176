"""Bodies of the sandbox's e-Gov-shaped API (電子申請API v2): `metadata` / `results` / `_links`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# 手続ID (proc_id): 16 half-width alphanumerics.
PROC_ID = r"^[0-9A-Za-z]{16}$"
# 到達番号 (arrive_id): 16–18 half-width digits.
ARRIVE_ID = r"^[0-9]{16,18}$"


class SendFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(min_length=5, max_length=256, pattern=r"(?i)\.zip$", examples=["950A010002012000.zip"])
    file_data: str = Field(min_length=1, description="申請データ (ZIP) を Base64 符号化したもの")


class ApplyRequest(BaseModel):
    """申請データ送信 (POST /apply)."""

    model_config = ConfigDict(extra="forbid")

    proc_id: str = Field(pattern=PROC_ID, examples=["950A010002012000"])
    send_file: SendFile


class Metadata(BaseModel):
    title: str
    detail: str = ""
    type: str
    instance: str


class ApplyResults(BaseModel):
    arrive_id: str
    # e-Gov's format: "YYYY-MM-DD HH:MM:SS", Japan time.
    arrive_date: str
    apply_type: str


class ApplyLinks(BaseModel):
    self: str
    status: str


class ApplyResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    metadata: Metadata
    results: ApplyResults
    links: ApplyLinks = Field(alias="_links")


class CaseResults(BaseModel):
    arrive_id: str
    arrive_date: str
    status: str
    withdraw_flag: bool
    notice_count: int
    doc_count: int
    notice_list: list[dict[str, object]]
    official_list: list[dict[str, object]]


class SelfLink(BaseModel):
    self: str


class CaseResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    metadata: Metadata
    results: CaseResults
    links: SelfLink = Field(alias="_links")
