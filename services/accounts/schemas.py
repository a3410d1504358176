"""Request and response bodies of the accounts API."""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.accounts.rules.numbers import (
    NumberFormatError,
    normalise_digits,
    normalise_office_number,
    parse_labour_insurance_number,
)
from shared.permissions import MENUS

TenantKind = Literal["sharoushi", "jimukumiai", "both"]
Role = Literal["tenant_admin", "staff"]
MenuLevel = Literal["read", "write"]
KoyoJigyoKubun = Literal["ippan", "norin_shuzo", "kensetsu"]  # jimukumiai's codes
NoticeKind = Literal["maintenance", "end_of_service", "information"]

# Login ids end up in URLs, logs and CSVs: keep them plain.
LOGIN_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
TENANT_CODE = r"^[a-z0-9][a-z0-9-]{2,31}$"
ID = r"^[A-Za-z0-9-]{1,36}$"
KATAKANA = r"^[ァ-ヺー・　 （）()0-9０-９A-Za-zＡ-Ｚａ-ｚ&＆.,．，-]+$"


class PasswordPolicy(BaseModel):
    """Overrides of auth's password rules; null = the default (auth clamps to ASVS L2)."""

    model_config = ConfigDict(extra="forbid")

    min_length: int | None = Field(default=None, ge=8, le=128)
    max_length: int | None = Field(default=None, ge=64, le=1024)
    history: int | None = Field(default=None, ge=0, le=100)
    min_age_hours: int | None = Field(default=None, ge=0, le=720)


class LockoutPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: int | None = Field(default=None, ge=1, le=100)
    duration_minutes: int | None = Field(default=None, ge=1, le=10_080)
    admin_unlock_only: bool | None = None


class TenantSettings(BaseModel):
    """A tenant's security settings, whole (PUT replaces them)."""

    model_config = ConfigDict(extra="forbid")

    totp_required: bool = False
    device_cert_required: bool = False
    ip_allowlist: list[str] = Field(default_factory=list, max_length=200,
                                    description="CIDR (IPv4 / IPv6). Empty: no restriction for the tenant",
                                    examples=[["203.0.113.0/24", "2001:db8::/32"]])
    password_policy: PasswordPolicy = Field(default_factory=PasswordPolicy)
    lockout_policy: LockoutPolicy = Field(default_factory=LockoutPolicy)

    @field_validator("ip_allowlist")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        out = []
        for i, item in enumerate(v, start=1):
            try:
                # strict: 192.0.2.1/24 (host bits set) is a typo more often than not.
                out.append(str(ipaddress.ip_network(item.strip(), strict=True)))
            except ValueError as exc:  # the value itself is never echoed back
                raise ValueError(f"{i}番目の値を CIDR として解釈できません（ホスト部は0にしてください）") from exc
        return sorted(set(out), key=lambda s: (":" in s, s))


class AdminCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login_id: str = Field(pattern=LOGIN_ID, examples=["admin"])
    display_name: str = Field(min_length=1, max_length=100, examples=["佐藤 一郎"])
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL)


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=TENANT_CODE, examples=["sato-sr"])
    name: str = Field(min_length=1, max_length=200, examples=["佐藤社会保険労務士事務所"])
    kind: TenantKind
    contract_start: date
    contract_end: date | None = None


class TenantOpen(TenantCreate):
    """Open a tenant with its one first administrator (no self sign-up, no invitations)."""

    admin: AdminCreate
    settings: TenantSettings = Field(default_factory=TenantSettings)


class TenantUpdate(BaseModel):
    """The contract's fields, whole (PUT). Setting `contract_end` schedules the end of contract."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
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


class TenantSettingsOut(TenantSettings):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: str
    version: int


class TenantGatewayView(BaseModel):
    """What the gateway needs of a tenant (internal, service tokens only)."""

    tenant_id: str
    code: str
    status: str
    ip_allowlist: list[str]
    device_cert_required: bool


class JigyoshoGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all: bool = False
    ids: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        if any(not re.fullmatch(ID, i) for i in v):
            raise ValueError("事業所IDの形式が正しくありません")
        return sorted(set(v))


class Grants(BaseModel):
    """Menu grants (read or write) and 事業所 grants (all, or a list)."""

    model_config = ConfigDict(extra="forbid")

    menus: dict[str, MenuLevel] = Field(default_factory=dict, examples=[{"koyo_hoken": "write", "files": "read"}])
    jigyosho: JigyoshoGrant = Field(default_factory=JigyoshoGrant)

    @field_validator("menus")
    @classmethod
    def _known_menus(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(MENUS))
        if unknown:
            raise ValueError(f"不明なメニューです: {', '.join(unknown)[:200]}")
        return dict(sorted(v.items()))


class EffectivePermissions(BaseModel):
    roles: list[str]
    status: str
    menus: dict[str, MenuLevel]
    jigyosho: JigyoshoGrant


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login_id: str = Field(pattern=LOGIN_ID, examples=["tanaka"])
    display_name: str = Field(min_length=1, max_length=100, examples=["田中 花子"])
    roles: list[Role] = Field(default_factory=lambda: list[Role](["staff"]), min_length=1)
    grants: Grants = Field(default_factory=Grants)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL,
                              description="お知らせ等のメールの宛先 (省略可)")
    deadline_digest_days: int | None = Field(
        default=None, ge=1, le=90, description="期限のお知らせメール: この日数以内の期限を毎朝通知 (省略: 配信しない)")


class UserUpdate(BaseModel):
    """A user's editable fields, whole (PUT)."""

    model_config = ConfigDict(extra="forbid")

    login_id: str = Field(pattern=LOGIN_ID)
    display_name: str = Field(min_length=1, max_length=100)
    roles: list[Role] = Field(min_length=1)
    grants: Grants
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL,
                              description="メールの宛先。省略時は変更しません (null で削除)")
    deadline_digest_days: int | None = Field(
        default=None, ge=1, le=90, description="期限のお知らせメールの日数。省略時は変更しません (null で停止)")


class UserOut(BaseModel):
    id: str
    tenant_id: str
    login_id: str
    display_name: str
    roles: list[str]
    status: str
    grants: Grants
    email: str | None = None
    deadline_digest_days: int | None = None
    permissions_version: int
    created_at: datetime
    version: int


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, examples=["山田 花子"])
    role: str | None = Field(default=None, max_length=100, examples=["総務部 担当"])
    phone: str | None = Field(default=None, pattern=r"^[0-9+()\- ]{6,20}$", examples=["03-1234-5678"])
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL)


class JigyoshoIn(BaseModel):
    """A 事業所 (client employer), whole (POST creates, PUT replaces)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, examples=["株式会社山田製作所"])
    name_kana: str = Field(min_length=1, max_length=200, pattern=KATAKANA,
                           examples=["カブシキガイシャヤマダセイサクショ"])
    postal_code: str | None = Field(default=None, pattern=r"^[0-9]{3}-?[0-9]{4}$", examples=["100-0001"])
    address: str = Field(min_length=1, max_length=300, examples=["東京都千代田区千代田1-1"])
    labour_insurance_number: str | None = Field(
        default=None, description="労働保険番号 14桁 (府県2 所掌1 管轄2 基幹番号6 枝番号3; 区切りは除去)",
        examples=["13101912340001"])
    employment_insurance_office_number: str | None = Field(
        default=None, description="雇用保険適用事業所番号 4-6-1 (チェックディジットは検証しません: 算式が非公開)",
        examples=["1301-123456-7"])
    rousai_gyoshu_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$",
                                           description="労災保険率表の事業の種類の番号 (2桁)", examples=["54"])
    koyo_jigyo_kubun: KoyoJigyoKubun = Field(
        default="ippan",
        description="雇用保険の事業区分: ippan 一般 / norin_shuzo 農林水産・清酒製造 / kensetsu 建設")
    headcount: int | None = Field(default=None, ge=0, le=1_000_000)
    contacts: list[Contact] = Field(default_factory=list, max_length=20)

    @field_validator("labour_insurance_number")
    @classmethod
    def _lin(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return parse_labour_insurance_number(v).number
        except NumberFormatError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("employment_insurance_office_number")
    @classmethod
    def _office(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return normalise_office_number(v)
        except NumberFormatError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("postal_code")
    @classmethod
    def _postal(cls, v: str | None) -> str | None:
        if v is None:
            return None
        d = normalise_digits(v)
        return f"{d[:3]}-{d[3:]}"


class LabourInsuranceNumberOut(BaseModel):
    number: str
    formatted: str
    prefecture_code: str
    prefecture: str
    shokan: str
    shokan_meaning: str | None
    kankatsu: str
    kikan: str
    kikan_kind: str | None
    kikan_application: str | None
    edaban: str
    notes: list[str]


class JigyoshoOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    name_kana: str
    postal_code: str | None
    address: str
    labour_insurance_number: str | None
    labour_insurance_number_parts: LabourInsuranceNumberOut | None
    employment_insurance_office_number: str | None
    rousai_gyoshu_code: str | None
    koyo_jigyo_kubun: KoyoJigyoKubun
    headcount: int | None
    contacts: list[Contact]
    status: str
    closed_on: date | None
    created_at: datetime
    updated_at: datetime
    version: int


class JigyoshoPage(BaseModel):
    items: list[JigyoshoOut]
    total: int
    limit: int
    offset: int


class JigyoshoClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closed_on: date = Field(description="廃止日")


class NoticeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: NoticeKind
    title: str = Field(min_length=1, max_length=200, examples=["定期メンテナンスのお知らせ"])
    body: str = Field(min_length=1, max_length=10_000)
    starts_at: datetime | None = Field(default=None, description="メンテナンス開始 / サービス終了の日時")
    ends_at: datetime | None = Field(default=None, description="メンテナンス終了の日時")
    visible_until: datetime | None = Field(default=None, description="掲載終了 (省略時: 終了日時)")
    emergency: bool = Field(default=False, description="緊急: 事前告知期間の対象外 (理由が必要)")
    emergency_reason: str | None = Field(default=None, max_length=500)
    tenant_id: str | None = Field(default=None, pattern=ID, description="特定のテナントだけに掲載する場合")

    @model_validator(mode="after")
    def _shape(self) -> NoticeCreate:
        for name in ("starts_at", "ends_at", "visible_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: タイムゾーン付きの日時を指定してください")
        if self.kind in ("maintenance", "end_of_service") and self.starts_at is None:
            raise ValueError("メンテナンス・サービス終了のお知らせには starts_at が必要です")
        if self.kind == "maintenance" and self.ends_at is None:
            raise ValueError("メンテナンスのお知らせには ends_at が必要です")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at は starts_at より後にしてください")
        if self.kind == "information" and self.visible_until is None:
            raise ValueError("一般のお知らせには visible_until が必要です")
        if self.emergency and not self.emergency_reason:
            raise ValueError("緊急のお知らせには emergency_reason が必要です")
        return self


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str | None
    kind: NoticeKind
    title: str
    body: str
    starts_at: datetime | None
    ends_at: datetime | None
    emergency: bool
    emergency_reason: str | None
    published_at: datetime
    visible_until: datetime
    version: int


class NoticePage(BaseModel):
    items: list[NoticeOut]


class TerminationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: str
    tenant_code: str
    contract_end: date
    accounts_disabled_on: date
    data_deleted_on: date
    accounts_deleted_on: date
    status: str
    disabled_at: datetime | None
    purge_requested_at: datetime | None
    accounts_deleted_at: datetime | None
    confirmed_services: list[str] = Field(default_factory=list)
    pending_services: list[str] = Field(default_factory=list)
    # The return before deletion (返却): the step before the deletion, offered while the data is
    # there (status scheduled or disabled); the exports made so far (docs/tenant-export.md).
    export_available: bool = False
    exports: list[TenantExportOut] = Field(default_factory=list)


class TenantExportOut(BaseModel):
    """A whole-tenant export (返却): who made it, when, whether My Numbers are in it (encrypted to
    the key with `recipient_fingerprint`), and its archive once uploaded (download at
    `GET /tenants/{tenant_id}/exports/{id}/archive`)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    operator: str
    created_at: datetime
    my_numbers_included: bool
    recipient_fingerprint: str | None
    key_id: str
    archive_sha256: str | None
    archive_size: int | None
    archived_at: datetime | None


class TenantExportSign(BaseModel):
    """The manifest ops.tenant_export wrote (files with SHA-256 and size, rows per entity); accounts
    adds the export id, the tenant, the operator and the time, and signs it."""

    manifest: dict[str, Any]


class SignedExport(BaseModel):
    """`manifest` is the exact UTF-8 JSON text signed (Ed25519, the deletion certificate key
    `key_id` of GET /certificate-keys); write it to manifest.json byte for byte."""

    export_id: str
    manifest: str
    signature: str = Field(description="base64url (no padding) Ed25519 signature of manifest's UTF-8 bytes")
    key_id: str


class JobRun(BaseModel):
    ran: list[dict[str, Any]]


class RepublishGrants(BaseModel):
    """Which tenant's grants to publish again (omitted: every tenant)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = Field(default=None, pattern=ID, description="1テナントだけに限る場合")


class Republished(BaseModel):
    """How many snapshots were recorded: `users` permissions_changed (deleted users' tombstones
    included), `tenants` settings_changed, `jigyosho` the 事業所 master's updated / closed."""

    users: int
    tenants: int
    jigyosho: int


class SignedCertificate(BaseModel):
    """The deletion certificate: `certificate` is the exact UTF-8 JSON text that was signed
    (Ed25519 over its bytes); verify with the key `key_id` of GET /certificate-keys."""

    certificate: str
    signature: str = Field(description="base64url (no padding) Ed25519 signature of certificate's UTF-8 bytes")
    key_id: str
    algorithm: Literal["Ed25519"] = "Ed25519"


class MailDeliveryOut(BaseModel):
    """One line of the mail delivery log (operators)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    user_id: str
    kind: str
    ref_id: str
    address: str
    subject: str
    status: str = Field(description="pending | sent | refused (5xx) | failed (retries exhausted)")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class MailDeliveryPage(BaseModel):
    items: list[MailDeliveryOut]
