"""Office certificates for signing packages (XMLDSig, RSA-SHA256; shared.xmldsig).

A tenant uploads its office's certificate as PKCS#12 (.p12/.pfx) with the file's password. It is
read with `cryptography` and refused, with a Japanese problem+json, when the password is wrong,
the file is not PKCS#12, the key is not RSA or shorter than 2048 bits, the certificate has expired
(or is not valid yet), or the key does not belong to the certificate. Kept: the certificate (DER,
public) and the private key re-encrypted — PKCS#8 DER sealed with the data keys (shared.crypto,
AES-256-GCM, AAD bound to the row). The PKCS#12 file and its password are never stored, logged or
put into an event or an error.

A tenant may hold several certificates (the office's, the 事務組合 理事長's …): an e-Gov account
uses the one chosen for it, else the tenant's default. A package whose procedure needs a signature
(rules/signing.py) is signed with it; none → 409 `certificate-required` before anything is sent."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.efiling import events
from services.efiling.egov.package import Signer
from services.efiling.models import EgovAccount, OfficeCertificate, messaging
from shared.crypto import CryptoError, DataKeys
from shared.errors import ProblemError, not_found
from shared.events import Actor

MAX_PKCS12_BYTES = 64 * 1024
MIN_RSA_BITS = 2048
EXPIRY_WARNING = timedelta(days=30)


def _refused(slug: str, title: str, detail: str, field: str = "body.file") -> ProblemError:
    return ProblemError(422, slug, title, detail, errors=[{"field": field, "message": title, "code": slug}])


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData … } (RFC 7292): a DER
    SEQUENCE whose first element is INTEGER 3. Tells "not a PKCS#12 file" from "wrong password",
    which `cryptography` reports alike."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    i = 1
    length = data[i]
    i += 1
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(data) < i + n:
            return False
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    return length <= len(data) - i and data[i:i + 3] == b"\x02\x01\x03"


@dataclass(frozen=True)
class Parsed:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def parse_pkcs12(data: bytes, password: str, now: datetime) -> Parsed:
    """The key and certificate of a PKCS#12 file, checked; a ProblemError (422) naming the problem.
    The password is used here and nowhere else; it never appears in what is raised."""
    if not data:
        raise _refused("certificate-empty", "証明書ファイルが空です",
                       "PKCS#12 (.p12 / .pfx) ファイルを指定してください")
    if len(data) > MAX_PKCS12_BYTES:
        raise _refused("certificate-too-large", "証明書ファイルが大きすぎます",
                       f"PKCS#12 ファイルは {MAX_PKCS12_BYTES // 1024} KB までです")
    if not _looks_like_pkcs12(data):
        raise _refused("certificate-unreadable", "PKCS#12 (.p12 / .pfx) ファイルとして読み取れません",
                       "証明書ファイル (PKCS#12 形式、拡張子 .p12 または .pfx) を指定してください")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode("utf-8") if password else None)
    except (ValueError, TypeError):
        raise _refused("certificate-password", "証明書のパスワードが正しくありません",
                       "PKCS#12 ファイルを開けませんでした。パスワードを確認してください",
                       field="body.password") from None
    except Exception:  # an unsupported algorithm inside the file: the same answer, no detail echoed
        raise _refused("certificate-unreadable", "PKCS#12 (.p12 / .pfx) ファイルとして読み取れません",
                       "このファイルの形式には対応していません") from None
    if cert is None or key is None:
        raise _refused("certificate-incomplete", "証明書と秘密鍵の両方が必要です",
                       "秘密鍵と証明書を含む PKCS#12 ファイルを指定してください")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _refused("certificate-key-type", "RSA 以外の鍵の証明書は使えません",
                       "e-Gov の電子署名は RSA-SHA256 です。RSA 鍵の証明書を指定してください")
    if key.key_size < MIN_RSA_BITS:
        raise _refused("certificate-key-size", "鍵の長さが足りません",
                       f"RSA {MIN_RSA_BITS} ビット以上の鍵の証明書を指定してください "
                       f"(この証明書は {key.key_size} ビット)")
    if cert.not_valid_after_utc <= now:
        raise _refused("certificate-expired", "有効期限が切れた証明書です",
                       f"有効期限: {cert.not_valid_after_utc:%Y-%m-%d %H:%M} (UTC)。有効な証明書を指定してください")
    if cert.not_valid_before_utc > now:
        raise _refused("certificate-not-yet-valid", "有効期間が始まっていない証明書です",
                       f"有効期間の開始: {cert.not_valid_before_utc:%Y-%m-%d %H:%M} (UTC)")
    mine = cert.public_key()
    if not isinstance(mine, rsa.RSAPublicKey) or mine.public_numbers() != key.public_key().public_numbers():
        raise _refused("certificate-key-mismatch", "秘密鍵が証明書と一致しません",
                       "同じ証明書の秘密鍵を含む PKCS#12 ファイルを指定してください")
    return Parsed(key, cert, tuple(extra or ()))


def _aad(cert_id: str) -> bytes:
    return f"efiling.office_certificate:{cert_id}:private_key".encode()


def _fill(row: OfficeCertificate, keys: DataKeys, parsed: Parsed) -> None:
    c = parsed.cert
    row.subject = c.subject.rfc4514_string()[:1000]
    row.issuer = c.issuer.rfc4514_string()[:1000]
    row.serial_number = format(c.serial_number, "x")[:80]
    row.not_before, row.not_after = c.not_valid_before_utc, c.not_valid_after_utc
    row.fingerprint_sha256 = c.fingerprint(hashes.SHA256()).hex()
    row.key_size = parsed.key.key_size
    row.certificate_der = c.public_bytes(serialization.Encoding.DER)
    row.chain = [base64.b64encode(x.public_bytes(serialization.Encoding.DER)).decode() for x in parsed.chain]
    der = parsed.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    row.private_key_sealed = keys.seal(der, _aad(row.id))


def _facts(row: OfficeCertificate) -> dict[str, object]:
    # public facts only: no key, no password, no subject (it names a person: the 理事長)
    return {"serial_number": row.serial_number, "fingerprint_sha256": row.fingerprint_sha256,
            "not_after": row.not_after.isoformat(), "is_default": row.is_default}


def _tenant_has_default(session: Session, tenant_id: str) -> bool:
    return session.execute(select(OfficeCertificate.id).where(
        OfficeCertificate.tenant_id == tenant_id, OfficeCertificate.is_default.is_(True))).first() is not None


def _clear_default(session: Session, tenant_id: str) -> None:
    for other in session.execute(select(OfficeCertificate).where(
            OfficeCertificate.tenant_id == tenant_id, OfficeCertificate.is_default.is_(True))).scalars():
        other.is_default = False


def add(session: Session, keys: DataKeys, tenant_id: str, label: str, parsed: Parsed, make_default: bool | None,
        actor: Actor, now: datetime) -> OfficeCertificate:
    """Keep a new certificate. The tenant's first certificate becomes its default unless told not to."""
    default = make_default if make_default is not None else not _tenant_has_default(session, tenant_id)
    if default:
        _clear_default(session, tenant_id)
    row = OfficeCertificate(id=str(uuid.uuid4()), tenant_id=tenant_id, label=label, is_default=default,
                            created_at=now, updated_at=now)
    _fill(row, keys, parsed)
    session.add(row)
    session.flush()
    messaging.record(session, events.certificate_event(events.CERTIFICATE_ADDED, row, actor, **_facts(row)))
    return row


def in_tenant(session: Session, tenant_id: str, cert_id: str) -> OfficeCertificate:
    row = session.get(OfficeCertificate, cert_id)
    if row is None or row.tenant_id != tenant_id:
        raise not_found()
    return row


def replace(session: Session, keys: DataKeys, row: OfficeCertificate, parsed: Parsed, actor: Actor,
            now: datetime) -> OfficeCertificate:
    """A renewed certificate in place of the old one: the accounts that chose it keep it."""
    before = _facts(row)
    _fill(row, keys, parsed)
    row.updated_at = now
    session.flush()
    messaging.record(session, events.certificate_event(events.CERTIFICATE_REMOVED, row, actor, **before,
                                                       reason="replaced"))
    messaging.record(session, events.certificate_event(events.CERTIFICATE_ADDED, row, actor, **_facts(row)))
    return row


def update_settings(session: Session, row: OfficeCertificate, label: str | None, make_default: bool | None,
                    now: datetime) -> None:
    if label is not None:
        row.label = label
    if make_default is True and not row.is_default:
        _clear_default(session, row.tenant_id)
        row.is_default = True
    elif make_default is False:
        row.is_default = False
    row.updated_at = now


def remove(session: Session, row: OfficeCertificate, actor: Actor) -> None:
    """The key is gone with the row; accounts that chose it fall back to the tenant's default."""
    facts = _facts(row)
    session.execute(update(EgovAccount).where(EgovAccount.tenant_id == row.tenant_id,
                                              EgovAccount.certificate_id == row.id)
                    .values(certificate_id=None, version=EgovAccount.version + 1)
                    .execution_options(synchronize_session=False))
    messaging.record(session, events.certificate_event(events.CERTIFICATE_REMOVED, row, actor, **facts,
                                                       reason="deleted"))
    session.delete(row)


def choose_for_account(session: Session, account: EgovAccount, cert_id: str | None) -> None:
    if cert_id is not None:
        row = session.get(OfficeCertificate, cert_id)
        if row is None or row.tenant_id != account.tenant_id:
            raise ProblemError(422, "validation", "入力内容に誤りがあります", errors=[
                {"field": "body.certificate_id", "message": "証明書が見つかりません", "code": "not_found"}])
    account.certificate_id = cert_id


# ---------------------------------------------------------------- signing


def certificate_required() -> ProblemError:
    return ProblemError(409, "certificate-required", "電子署名に使う証明書が登録されていません",
                        "この手続は電子署名が必要です。事務所の証明書 (PKCS#12) を登録し、"
                        "e-Gov アカウントまたは既定の証明書に設定してください")


def for_account(session: Session, tenant_id: str, account_id: str) -> OfficeCertificate | None:
    """The account's chosen certificate, else the tenant's default, else None."""
    account = session.get(EgovAccount, account_id) if account_id else None
    if account is not None and account.tenant_id == tenant_id and account.certificate_id:
        row = session.get(OfficeCertificate, account.certificate_id)
        if row is not None and row.tenant_id == tenant_id:
            return row
    return session.execute(select(OfficeCertificate).where(
        OfficeCertificate.tenant_id == tenant_id, OfficeCertificate.is_default.is_(True))).scalars().first()


def signer(session: Session, keys: DataKeys, tenant_id: str, account_id: str, now: datetime) -> Signer:
    """The Signer of the certificate the account uses; 409 when there is none or it has expired."""
    row = for_account(session, tenant_id, account_id)
    if row is None:
        raise certificate_required()
    if row.not_after <= now:
        raise ProblemError(409, "certificate-expired", "署名に使う証明書の有効期限が切れています",
                           f"証明書「{row.label}」の有効期限: {row.not_after:%Y-%m-%d}。"
                           "新しい証明書に差し替えてください")
    try:
        der = keys.open(row.private_key_sealed, _aad(row.id))
    except CryptoError as exc:
        raise ProblemError(409, "certificate-unusable", "登録された証明書の秘密鍵を読み出せません",
                           "証明書を登録し直してください") from exc
    key = serialization.load_der_private_key(der, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Signer(key, x509.load_der_x509_certificate(row.certificate_der))
