"""PKCS#12 files made in the test with `cryptography`: valid, expired, EC, short RSA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID

PASSWORD = "p12-Secret-パス"


def make_p12(*, kind: str = "rsa", bits: int = 2048, valid_from_days: int = -1, valid_days: int = 365,
             password: str = PASSWORD, name: str = "花子社会保険労務士事務所"
             ) -> tuple[bytes, x509.Certificate]:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=bits))
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, "社労士 花子")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CA")])
    start = now + timedelta(days=valid_from_days)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days)).sign(ca_key, hashes.SHA256()))
    data = pkcs12.serialize_key_and_certificates(b"office", key, cert, None,
                                                 BestAvailableEncryption(password.encode()))
    return data, cert
