"""Request and response bodies of the efiling API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.efiling.egov.package import APPLICANT_FIELDS
from services.efiling.rules.status import State
from shared.paging import NEXT_DESCRIPTION
from shared.schema_types import DateText, one_of

# Ids of other services' records (the 事業所 of accounts) are opaque strings to this service.
REF_ID = r"^[A-Za-z0-9-]{1,36}$"
# e-Gov 手続ID: 16 half-width alphanumerics (電子申請API v2, proc_id).
PROC_ID = r"^[0-9A-Za-z]{16}$"
# e-Gov 様式ID: 18 characters.
FORM_ID = r"^[0-9A-Za-z]{18}$"
# Idempotency-Key: visible ASCII only, since it is stored, compared and may be logged.
IDEMPOTENCY_KEY = r"^[\x21-\x7E]{1,100}$"


class FormIn(BaseModel):
    """One 申請書 of the procedure: e-Gov's element names as keys, nested objects for groups
    (e.g. 生年月日: {年号, 年, 月, 日}). The shape koyo_hoken's form-data answers."""

    model_config = ConfigDict(extra="forbid")

    form_id: str = Field(pattern=FORM_ID, examples=["495008680033800330"])
    version: str | None = Field(default=None, pattern=r"^[0-9]{1,4}$", description="様式バージョン; checked when given")
    fields: dict[str, Any] = Field(description="要素名 → 値 (文字列または入れ子のオブジェクト)")


class AttachmentIn(BaseModel):
    """A file of the files service sent with the filing (提出代行証明書, 委任状, a wage register …)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    file_id: str = Field(pattern=REF_ID, description="files サービスのファイル ID")
    label: str = Field(min_length=1, max_length=100, description="添付書類名称 (構成管理XMLに載る名前)",
                       examples=["提出代行証明書"])


class FilingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    jigyosho_id: str = Field(pattern=REF_ID, examples=["5f0c9d7e-3b7a-4f53-9a51-0d9a6f1c2b11"])
    procedure_code: str = Field(pattern=PROC_ID, description="e-Gov 手続ID (proc_id)",
                                examples=["4950008680033000"])
    title: str | None = Field(default=None, min_length=1, max_length=200,
                              description="一覧に表示する件名。省略時は手続名",
                              examples=["雇用保険被保険者資格取得届 2026年4月入社分"])
    forms: list[FormIn] | None = Field(
        default=None, min_length=1, max_length=20,
        description="申請書の内容。指定すると送信できる申請になる（e-Gov で使えない文字・様式の項目を確認済み）")
    applicant: dict[str, str] | None = Field(
        default=None, description="申請者 (構成管理XMLの申請者情報): 氏名 は必須。キー: " + "・".join(APPLICANT_FIELDS))
    egov_account_id: str | None = Field(default=None, pattern=REF_ID,
                                        description="送信に使う e-Gov アカウント。省略時、連携済みが1つならそれ")
    sign: bool | None = Field(default=None, description=(
        "true: 事務所の証明書で必ず電子署名する (証明書がなければ送信前に 409)。省略時は手続の定め: "
        "署名が必要な手続は署名し、gBizID で署名を省ける手続は証明書が設定されていれば署名する"))
    insured_person_id: str | None = Field(default=None, pattern=REF_ID, description=(
        "申請の対象となる被保険者 (雇用保険サービスの ID、サービスからの依頼のみ)。"
        "指定すると、個人番号を表示したパッケージのダウンロードがその人の個人番号の閲覧として記録される"))
    attachments: list[AttachmentIn] | None = Field(
        default=None, max_length=10, description=(
            "添付書類 (files サービスのファイル)。PDF・JPEG・PNG、1件 5 MB・合計 10 MB まで (e-Gov の上限は"
            "公開されていないため控えめな値)。forms と一緒に指定する"))

    @field_validator("applicant")
    @classmethod
    def _applicant_keys(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is None:
            return v
        unknown = sorted(set(v) - set(APPLICANT_FIELDS))
        if unknown:
            raise ValueError(f"unknown applicant fields: {', '.join(unknown)}")
        if not v.get("氏名", "").strip():
            raise ValueError("氏名 is required")
        if any(len(x) > 200 for x in v.values()):
            raise ValueError("values are at most 200 characters")
        return v


class FilingOut(BaseModel):
    id: str
    tenant_id: str
    jigyosho_id: str
    procedure_code: str
    title: str
    status: Annotated[str, one_of(State)]
    source: str | None = Field(default=None, description="申請を依頼したサービス (koyo_hoken, jimukumiai)")
    egov_account_id: str | None = None
    egov_status: str | None = Field(default=None, description="e-Gov のステータス文字列 (そのまま)")
    arrive_id: str | None = Field(default=None, description="到達番号")
    arrive_date: str | None = Field(default=None, description="到達日時 (e-Gov の表記のまま、例 2026-04-20 12:34:56)")
    correction_deadline: DateText | None = Field(default=None, description="補正期限")
    attempts: int = 0
    created_at: datetime
    updated_at: datetime = Field(description="最後に変わった時刻 (状態・e-Gov の項目)。変わっていなければ created_at")
    version: int


class FilingList(BaseModel):
    items: list[FilingOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(default=None, description=NEXT_DESCRIPTION)


class HistoryEntry(BaseModel):
    seq: int
    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    egov_status: str | None
    detail: dict[str, Any]


class NoticeOut(BaseModel):
    notice_sub_id: int
    notice_type: str
    correct_type: str | None
    title: str
    sentence: str
    correct_expired_date: str | None
    issued: str | None
    received_at: datetime


class PackageOut(BaseModel):
    id: str
    kind: str = Field(description="apply / amend / withdraw")
    file_name: str
    sha256: str
    signed: bool
    created_at: datetime


class DocumentOut(BaseModel):
    id: str
    file_id: str | None = Field(default=None,
                                description="ファイルサービスでのID (ファイルメニューからもダウンロードできる)")
    notice_sub_id: int
    doc_title: str
    file_names: list[Any]
    sha256: str
    signed: bool
    signature_valid: bool | None
    signer: str | None
    egov_verify_result: str | None
    downloaded_at: datetime
    completed_at: datetime | None


class FilingDetail(BaseModel):
    filing: FilingOut
    history: list[HistoryEntry]
    notices: list[NoticeOut]
    packages: list[PackageOut]
    documents: list[DocumentOut]


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    egov_account_id: str | None = Field(default=None, pattern=REF_ID,
                                        description="申請作成時に決まっていない場合の送信アカウント")


class SubmitOut(BaseModel):
    filing: FilingOut
    report_list: list[dict[str, Any]] = Field(default_factory=list,
                                              description="e-Gov の形式チェック結果 (誤りがあれば送信していない)")


class AmendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forms: list[FormIn] = Field(min_length=1, max_length=20)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500, examples=["誤って提出したため"])


class BulkSubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filing_ids: list[str] = Field(min_length=1, max_length=2000)

    @field_validator("filing_ids")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("filing ids must be distinct")
        return v


class BulkItemOut(BaseModel):
    filing_id: str
    status: str
    arrive_id: str | None


class BulkSubmitOut(BaseModel):
    bulk_send_ids: list[str]
    items: list[BulkItemOut]


class EgovAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(min_length=1, max_length=100, examples=["事務所", "事務組合 理事長"])
    login_hint: str | None = Field(default=None, max_length=200)


class EgovAccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    label: str
    state: str = Field(description="pending (認可待ち) / linked / expired / logged_out")
    egov_subject: str | None
    certificate_id: str | None = Field(default=None,
                                       description="このアカウントで送る申請に署名する証明書 (未設定: 既定の証明書)")
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    created_at: datetime
    version: int


class LinkStarted(BaseModel):
    account: EgovAccountOut
    authorization_url: str = Field(description="利用者のブラウザで開く e-Gov の認可画面 (PKCE S256, state 付き)")


class LinkCallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=2000)
    state: str = Field(min_length=1, max_length=200)


# ---------------------------------------------------------------- office certificates


class CertificateOut(BaseModel):
    """A certificate as listed: public facts, never the key."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    label: str
    subject: str = Field(description="証明書の主体者 (RFC 4514)")
    issuer: str = Field(description="発行者 (RFC 4514)")
    serial_number: str = Field(description="シリアル番号 (16進)")
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str = Field(description="証明書 (DER) の SHA-256 フィンガープリント")
    key_size: int = Field(description="RSA 鍵長 (ビット)")
    is_default: bool = Field(description="テナントの既定の証明書 (証明書を指定していない e-Gov アカウントが使う)")
    egov_account_ids: list[str] = Field(default_factory=list, description="この証明書を指定している e-Gov アカウント")
    expired: bool = False
    expires_soon: bool = Field(default=False, description="30日以内に有効期限が切れる")
    warning: str | None = Field(default=None, description="有効期限についての注意")
    created_at: datetime
    updated_at: datetime
    version: int


class CertificateList(BaseModel):
    items: list[CertificateOut]
    warnings: list[str] = Field(default_factory=list, description="有効期限が近い・切れた証明書の注意")


class CertificatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str | None = Field(default=None, min_length=1, max_length=100)
    is_default: bool | None = Field(default=None, description="true: テナントの既定にする / false: 既定から外す")


class AccountCertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate_id: str | None = Field(pattern=REF_ID, description="署名に使う証明書。null でテナントの既定に戻す")
