"""Request and response bodies of the webhooks API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.webhooks.events import EVENT_TYPES
from shared.schema_types import one_of

WebhookEventType = Annotated[str, one_of(EVENT_TYPES, "WebhookEventType")]

EVENT_TYPE_DESCRIPTION = "受け取るイベント: " + ", ".join(f"`{k}` ({v})" for k, v in EVENT_TYPES.items())


def _types(v: list[str]) -> list[str]:
    unknown = sorted(set(v) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    return sorted(set(v))


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=8, max_length=2000, examples=["https://partner.example/roumu/webhooks"],
                     description="https:// の URL (POST で届きます)")
    event_types: list[WebhookEventType] = Field(min_length=1, max_length=len(EVENT_TYPES),
                                                description=EVENT_TYPE_DESCRIPTION,
                                                examples=[["official_document.received", "procedure.completed"]])
    description: str | None = Field(default=None, max_length=200)

    _check_types = field_validator("event_types")(_types)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[WebhookEventType] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)
    status: Literal["active", "disabled"] | None = Field(
        default=None, description="active で再開 (自動停止の解除)、disabled で停止")

    @field_validator("event_types")
    @classmethod
    def _t(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _types(v)


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str | None
    event_types: list[WebhookEventType]
    jigyosho_ids: list[str] | None = Field(description="この事業所のイベントだけが届きます (null = すべて)")
    status: Literal["active", "disabled"]
    disabled_reason: str | None = Field(description="自動停止の理由 (persistent_failure) または手動停止")
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="ローテーション前のシークレットでも署名する期限 (重複期間)")
    created_at: datetime
    version: int


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="署名用シークレット。この応答でのみ表示されます")


class EndpointPage(BaseModel):
    items: list[EndpointOut]
    total: int
    limit: int
    offset: int


class RotateSecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float | None = Field(default=None, ge=0, le=168,
                                        description="旧シークレットでも署名し続ける時間 (既定 24)")


class AttemptOut(BaseModel):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    manual: bool


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: WebhookEventType
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="送った本文 (JSON)")
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


class EventTypeOut(BaseModel):
    name: str
    description: str
