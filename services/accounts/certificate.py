"""The deletion certificate (データ削除証明書): what each service deleted of a tenant, and when.

The certificate is canonical JSON (sorted keys, no spaces, UTF-8) signed with Ed25519 over its
exact bytes by a `certificate` key of ROUMU_KEYS_DIR; the public keys are published at
GET /api/v1/accounts/certificate-keys. Changing any byte of the text or of the signature makes
`verify` fail. The Japanese rendering is for people and is not itself signed: it quotes the
signature and key id, and the JSON is the document of record."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.accounts.events import PURGING_SERVICES
from services.accounts.models import ContractTermination, PurgeConfirmation
from shared.clock import JST
from shared.keys import ensure_key

SERVICE_NAMES = {
    "auth": "認証（ログイン情報・セッション・ログイン履歴・端末証明書）",
    "accounts": "アカウント管理（事業所マスタ・お知らせ・権限の複製）",
    "koyo_hoken": "雇用保険",
    "jimukumiai": "労働保険事務組合",
    "efiling": "電子申請",
    "audit_log": "操作ログ",
    "files": "ファイル",
}
BACKUPS = "バックアップは保持期間（最大35日）の満了により自動的に消去されます"


def build(term: ContractTermination, confirmations: list[PurgeConfirmation], issued_at: datetime) -> dict[str, Any]:
    by_service = {c.service: c for c in confirmations}
    services = []
    for name in PURGING_SERVICES:
        c = by_service[name]
        services.append({"service": name, "description": SERVICE_NAMES.get(name, name),
                         "deleted": dict(sorted(c.counts.items())), "total": sum(c.counts.values()),
                         "purged_at": c.purged_at.isoformat()})
    return {
        "type": "roumu.deletion_certificate", "version": 1,
        "certificate_id": str(uuid.uuid4()), "issued_at": issued_at.isoformat(), "issuer": "Roumu accounts",
        "tenant": {"id": term.tenant_id, "code": term.tenant_code, "name": term.tenant_name},
        "contract_end": term.contract_end.isoformat(),
        "schedule": {"accounts_disabled_on": term.accounts_disabled_on.isoformat(),
                     "data_deleted_on": term.data_deleted_on.isoformat(),
                     "accounts_deleted_on": term.accounts_deleted_on.isoformat()},
        "accounts_disabled_at": term.disabled_at.isoformat() if term.disabled_at else None,
        "purge_requested_at": term.purge_requested_at.isoformat() if term.purge_requested_at else None,
        "services": services,
        "account_information": ({"deleted": dict(sorted(term.account_counts.items())),
                                 "deleted_at": term.accounts_deleted_at.isoformat()}
                                if term.accounts_deleted_at else None),
        "backups": BACKUPS,
    }


def canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(doc: dict[str, Any], keys_dir: Path) -> tuple[str, str, str]:
    """(certificate text, signature, key id)."""
    key = ensure_key(keys_dir, "certificate")
    text = canonical(doc)
    return text, _b64(key.private.sign(text.encode("utf-8"))), key.kid


def verify(certificate: bytes, signature: str, public_key: Ed25519PublicKey) -> bool:
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        public_key.verify(raw, certificate)
    except (InvalidSignature, ValueError):
        return False
    return True


def _jst(iso: str | None) -> str:
    if iso is None:
        return "（未実施）"
    return datetime.fromisoformat(iso).astimezone(JST).strftime("%Y年%m月%d日 %H:%M:%S（日本時間）")


def render_text(doc: dict[str, Any], signature: str, key_id: str) -> str:
    """The certificate for people (Japanese)."""
    lines = [
        "データ削除証明書", "",
        f"証明書番号: {doc['certificate_id']}",
        f"発行日時: {_jst(doc['issued_at'])}",
        f"発行者: {doc['issuer']}", "",
        f"テナント: {doc['tenant']['name']}（コード {doc['tenant']['code']}、ID {doc['tenant']['id']}）",
        f"契約終了日: {doc['contract_end']}",
        f"アカウント無効化: {_jst(doc['accounts_disabled_at'])}",
        f"運用データ削除の指示: {_jst(doc['purge_requested_at'])}", "",
        "各サービスで削除したデータ:",
    ]
    for s in doc["services"]:
        lines.append(f"  ■ {s['description']}（{s['service']}） 計 {s['total']} 件 — 削除日時 {_jst(s['purged_at'])}")
        lines += [f"      {table}: {n} 件" for table, n in s["deleted"].items()]
    acct = doc["account_information"]
    lines.append("")
    if acct:
        lines.append(f"アカウント情報の削除: {_jst(acct['deleted_at'])}")
        lines += [f"      {table}: {n} 件" for table, n in acct["deleted"].items()]
    else:
        lines.append(f"アカウント情報の削除: 予定日 {doc['schedule']['accounts_deleted_on']}（未実施）")
    lines += ["", doc["backups"], "",
              f"署名: Ed25519（鍵ID {key_id}）", signature, "",
              "この表示は確認用です。正本は署名付き JSON（certificate）で、公開鍵",
              "/api/v1/accounts/certificate-keys により検証できます。"]
    return "\n".join(lines) + "\n"
