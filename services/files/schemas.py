"""Request and response bodies of the files API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.files.rules.names import sanitise_file_name

# The upload rule of the service spec: at most 100 MB per file.
MAX_SIZE_BYTES = 100 * 1024 * 1024
# type/subtype (RFC 6838 restricted names), lower-cased; parameters are not kept.
MEDIA_TYPE = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$"


class FileMetadataCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    original_name: str = Field(min_length=1, max_length=1024, description="元のファイル名 (保存時に無害化)",
                               examples=["資格取得届_2026年4月.pdf"])
    content_type: str = Field(pattern=MEDIA_TYPE, examples=["application/pdf"])
    size_bytes: int = Field(ge=0, le=MAX_SIZE_BYTES, examples=[48213])
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="内容の SHA-256 (16進)",
                        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])

    @field_validator("original_name")
    @classmethod
    def _sanitise(cls, v: str) -> str:
        return sanitise_file_name(v)

    @field_validator("content_type", "sha256", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str
    status: str = Field(description="registered / quarantined (検査待ち) / available / infected / deleted")
    created_at: datetime
    version: int
    jigyosho_id: str | None = None
    procedure_id: str | None = None
    filing_id: str | None = None
    scan_status: str | None = Field(default=None, description="clean / infected / pending / skipped (検査なし)")
    scanned_at: datetime | None = None
    retention_until: datetime | None = None
    deleted_at: datetime | None = None
    deleted_reason: str | None = None


class FileList(BaseModel):
    items: list[FileOut]
    next_after: str | None = Field(default=None, description="次のページの after")


class DownloadLinkOut(BaseModel):
    url: str = Field(description="署名付きダウンロードURL (ゲートウェイからの相対パス)")
    expires_at: datetime


class UsageOut(BaseModel):
    bytes_used: int
    files_count: int
    quota_bytes: int
    quota_files: int
