"""Request bodies of the sandbox's e-Gov-shaped API (電子申請API v2). Responses are e-Gov's
envelopes (`metadata` / `results` / `resultset` / `_links`), built in api.py."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# 手続ID (proc_id): 16 half-width alphanumerics.
PROC_ID = r"^[0-9A-Za-z]{16}$"
# 到達番号 (arrive_id): 16–18 half-width digits.
ARRIVE_ID = r"^[0-9]{16,18}$"


class SendFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(min_length=5, max_length=256, pattern=r"\.[Zz][Ii][Pp]$", examples=["950A010002012000.zip"])
    file_data: str = Field(min_length=1, description="申請データ (ZIP) を Base64 符号化したもの")


class ApplyRequest(BaseModel):
    """申請データ送信 (POST /apply) and 形式チェック (POST /apply/check)."""

    model_config = ConfigDict(extra="forbid")

    proc_id: str = Field(pattern=PROC_ID, examples=["950A010002012000"])
    send_file: SendFile


class BulkApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_file: SendFile


class AmendRequest(BaseModel):
    """補正データ送信 (POST /apply/amend) and 取下げ依頼 (POST /apply/withdraw)."""

    model_config = ConfigDict(extra="forbid")

    arrive_id: str = Field(pattern=ARRIVE_ID)
    send_file: SendFile


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrive_id: str = Field(pattern=ARRIVE_ID)
    notice_sub_id: int = Field(ge=1, le=999)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(min_length=1, max_length=256)
    file_data: str = Field(min_length=1)
    sig_verification_xml_file_name: str = Field(min_length=1, max_length=256)
