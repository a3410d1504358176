"""X.509 for the per-tenant device CA: make a CA, sign a device CSR, check a presented
certificate. No database and no I/O here; certificates.py keeps the rows."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10


def new_ca(tenant_id: str, tenant_code: str, now: datetime) -> tuple[str, bytes]:
    """(CA certificate PEM, private key PEM). P-256: every TLS stack accepts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Roumu"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, tenant_id),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Roumu device CA {tenant_code}")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem


class CsrError(ValueError):
    pass


def sign_csr(csr_pem: str, ca_cert_pem: str, ca_key_pem: bytes, tenant_id: str, label: str, now: datetime,
             days: int) -> x509.Certificate:
    """A client-auth certificate for the CSR's key. Only the key is taken from the CSR: the
    subject and extensions are ours, so a CSR cannot ask for a CA or a server certificate."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise CsrError("not a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise CsrError("the request's signature does not match its key")
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | _rsa_type()):
        raise CsrError("unsupported key type (use EC P-256 or RSA 2048+)")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Roumu"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, tenant_id),
                         x509.NameAttribute(NameOID.COMMON_NAME, label[:64])])
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _rsa_type() -> type:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.RSAPublicKey


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(der(cert)).hexdigest()


def thumbprint_s256(der_bytes: bytes) -> str:
    """RFC 8705 `x5t#S256`: base64url SHA-256 of the DER, the gateway token's `cnf` binding."""
    return base64.urlsafe_b64encode(hashlib.sha256(der_bytes).digest()).rstrip(b"=").decode()


def issued_by(cert: x509.Certificate, ca_cert_pem: str) -> bool:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")
