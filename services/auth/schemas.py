"""Request and response bodies of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Long enough for any password the policy allows (128 after NFKC may be longer before it).
PASSWORD_FIELD_MAX = 1024


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    tenant_code: str = Field(min_length=1, max_length=32, examples=["demo"])
    login_id: str = Field(min_length=1, max_length=64, examples=["admin"])
    password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)


class TotpStepRequest(Body):
    challenge: str = Field(max_length=4096)
    code: str | None = Field(default=None, max_length=10, description="認証アプリの6桁のコード")
    recovery_code: str | None = Field(default=None, max_length=40, description="リカバリーコード（どちらか一方）")


class PasswordStepRequest(Body):
    challenge: str = Field(max_length=4096)
    new_password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)


class ChallengeRequest(Body):
    challenge: str = Field(max_length=4096)


class ChallengeCodeRequest(Body):
    challenge: str = Field(max_length=4096)
    code: str = Field(min_length=6, max_length=10)


class PreviousLogin(BaseModel):
    at: datetime
    ip: str | None
    user_agent: str | None = None


class LoginResponse(BaseModel):
    status: Literal["authenticated", "totp_required", "password_change_required", "totp_enrolment_required"] = \
        "authenticated"
    challenge: str | None = Field(default=None, description="次の段階に渡す値（5分間有効）")
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int | None = None
    session_id: str | None = None
    previous_login: PreviousLogin | None = Field(
        default=None, description="前回ログイン日時と接続元 (the sheet's 最終ログイン日時)")
    recovery_codes: list[str] | None = Field(default=None, description="TOTP 登録時に一度だけ表示されます")


class RefreshRequest(Body):
    refresh_token: str | None = Field(default=None, min_length=1, max_length=200,
                                      description="省略できるのは cookie モード（X-Token-Mode: cookie）のみ")
    tenant_code: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="事務所コード。ゲートウェイ経由では必須（IP 制限の確認に使い、セッションの事務所と違えば 401）")


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str | None = Field(default=None, description="cookie モードでは Cookie で渡し、ここには入りません")
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    session_id: str


class Me(BaseModel):
    user_id: str
    tenant_id: str
    login_id: str
    roles: list[str]
    session_id: str
    previous_login: PreviousLogin | None
    totp_enabled: bool
    recovery_codes_left: int
    password_changed_at: datetime | None
    idle_timeout_seconds: int = Field(description="この時間操作がないとセッションが終了する（秒）")
    idle_warning_seconds: int = Field(description="終了の何秒前に警告するか（コンソール）")


class LoginHistoryItem(BaseModel):
    at: datetime
    outcome: str
    reason: str | None
    method: str | None
    ip: str | None
    user_agent: str | None


class SessionItem(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    method: str
    current: bool


class RevokedCount(BaseModel):
    revoked: int


class PasswordChangeRequest(Body):
    current_password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)
    new_password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)


class PasswordChanged(BaseModel):
    changed_at: datetime
    other_sessions: int = Field(description="他の端末でまだ有効なセッション数（変更で終了するため通常 0）")
    ended_sessions: int = Field(default=0, description="この変更で終了した他のセッションの数")
    end_other_sessions: str = Field(description="他のセッションを終了する操作")


class PasswordResetRequest(Body):
    temporary_password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)


class TotpEnrolment(BaseModel):
    otpauth_uri: str
    qr_png: str = Field(description="QR コード (data:image/png;base64,...)")
    secret: str = Field(description="QR を読み取れない場合に手入力する鍵")


class TotpConfirmRequest(Body):
    code: str = Field(min_length=6, max_length=10)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class LockoutItem(BaseModel):
    id: str
    user_id: str
    locked_at: datetime
    locked_until: datetime | None
    failures: int
    ip: str | None
    unlocked_at: datetime | None
    unlocked_by: str | None
    unlock_reason: str | None


class DeviceCa(BaseModel):
    certificate_pem: str


class DeviceCas(BaseModel):
    certificates: list[DeviceCa]


class TenantDeviceCa(BaseModel):
    """What the gateway checks a presented device certificate against at login."""

    tenant_id: str
    ca_pem: str
    revoked_serials: list[str] = Field(description="Revoked certificates' serial numbers, hexadecimal")


class CsrRequest(Body):
    csr_pem: str = Field(min_length=1, max_length=16384)
    label: str = Field(min_length=1, max_length=100, examples=["受付PC-1"])
    days: int | None = Field(default=None, ge=1, le=825)


class DeviceCertificateItem(BaseModel):
    serial: str
    label: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    revoked_at: datetime | None


class IssuedCertificate(DeviceCertificateItem):
    certificate_pem: str
    ca_certificate_pem: str


JIGYOSHO_IDS_DESCRIPTION = ("このクライアントに許可する事業所の ID。null (省略) はテナントのすべての事業所。"
                            "許可外の事業所のデータは存在しないものとして 404 になります")


class PartnerClientCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=20)
    jigyosho_ids: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,36}$")]] | None = Field(
        default=None, max_length=500, description=JIGYOSHO_IDS_DESCRIPTION)


class PartnerJigyoshoGrant(Body):
    jigyosho_ids: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,36}$")]] | None = Field(
        max_length=500, description=JIGYOSHO_IDS_DESCRIPTION)


class PartnerScopesChange(Body):
    scopes: list[str] = Field(min_length=1, max_length=20)


class PartnerClientItem(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    jigyosho_ids: list[str] | None = Field(default=None, description="許可された事業所 (null = すべて)")
    created_at: datetime
    created_by: str | None = Field(default=None, description="作成した管理者の利用者ID（記録前のものは null）")
    secret_rotated_at: datetime
    disabled_at: datetime | None


class PartnerClientWithSecret(PartnerClientItem):
    client_secret: str = Field(description="この応答でのみ表示されます")


class ScopeItem(BaseModel):
    name: str
    description: str


class OAuthToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    scope: str


class RotatedKey(BaseModel):
    kid: str


class OperatorLoginRequest(Body):
    """An operator's sign-in: name, password and the authenticator's code, in one step (TOTP is
    always required of operators)."""

    name: str = Field(min_length=1, max_length=32, examples=["yamada"])
    password: str = Field(min_length=1, max_length=PASSWORD_FIELD_MAX)
    code: str = Field(min_length=1, max_length=10, description="認証アプリの6桁のコード")


class OperatorToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    session_id: str
