"""The gateway terminating TLS and checking device certificates, over real TLS handshakes:
a valid certificate, none, one of another tenant's CA, a revoked one, one of a CA nobody knows."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.tls import thumbprint_s256
from shared.tokens import TokenVerifier
from tests.gateway.support import header_values

NOW = datetime.now(UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(minutes=5)).not_valid_after(NOW + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], cn: str, server: bool = False
          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca[0].subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(minutes=5)).not_valid_after(NOW + timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()), critical=False))
    if server:
        builder = (builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]),
                                         critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(ca[1], hashes.SHA256()), key


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def write_pair(folder: Path, name: str, pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> tuple[str, str]:
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_text(pem(pair[0]))
    key_path.write_bytes(pair[1].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("pki")
    server_ca = make_ca("test server CA")
    tenant_a, tenant_b, nobody = make_ca("device CA A"), make_ca("device CA B"), make_ca("unknown CA")
    revoked = issue(tenant_a, "revoked device")
    out: dict[str, object] = {
        "dir": folder, "server_ca": folder / "server-ca.pem",
        "server": write_pair(folder, "server", issue(server_ca, "gateway", server=True)),
        "ca_a": pem(tenant_a[0]), "ca_b": pem(tenant_b[0]),
        "valid": write_pair(folder, "valid", issue(tenant_a, "device a")),
        "foreign": write_pair(folder, "foreign", issue(tenant_b, "device b")),
        "revoked": write_pair(folder, "revoked", revoked),
        "revoked_serial": format(revoked[0].serial_number, "x"),
        "unknown": write_pair(folder, "unknown", issue(nobody, "stranger")),
    }
    (folder / "server-ca.pem").write_text(pem(server_ca[0]))
    return out


def client(pki: dict, cert: str | None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(pki["server_ca"]))
    if cert is not None:
        ctx.load_cert_chain(*pki[cert])  # type: ignore[misc]
    return httpx.Client(verify=ctx, timeout=30)


def test_client_certificates_over_real_tls(start_gateway_app, contract, pki, settings):
    app, url = contract
    app.add_tenant("t-a", "office-a", device_cert_required=True)
    app.add_tenant("t-b", "office-b")
    app.device_cas["t-a"] = {"ca_pem": pki["ca_a"], "revoked_serials": [pki["revoked_serial"]]}
    app.device_cas["t-b"] = {"ca_pem": pki["ca_b"], "revoked_serials": []}
    certfile, keyfile = pki["server"]
    base, gateway_app = start_gateway_app({"auth": url, "accounts": url}, tls_certfile=certfile, tls_keyfile=keyfile,
                                          tls_client_certs=True)
    assert base.startswith("https://")
    # The device CAs reach the handshake's trust store from auth's list (fetched at start).
    devices = gateway_app.gateway.rt.devices
    for _ in range(600):
        if len(devices.loaded) == 2:
            break
        with client(pki, None) as c:
            c.get(f"{base}/readyz")
    assert len(devices.loaded) == 2
    login = {"tenant_code": "office-a", "login_id": "a", "password": "x"}

    with client(pki, "valid") as c:
        r = c.post(f"{base}/api/v1/auth/login", json=login)
    assert r.status_code == 200, r.text
    assert r.headers["strict-transport-security"].startswith("max-age=")
    forwarded = unquote(header_values(r.json(), "x-roumu-client-cert")[0])
    cert = x509.load_pem_x509_certificate(forwarded.encode())
    assert cert.subject.rfc4514_string() == "CN=device a"
    token = header_values(r.json(), "x-roumu-gateway-token")[0]
    claims = TokenVerifier(settings.keys_dir).verify_service(token, audience="auth").claims
    assert claims["iss"] == "gateway" and claims["cnf"] == {"x5t#S256": thumbprint_s256(cert)}

    for name, detail in ((None, "必要"), ("foreign", "ではありません"), ("revoked", "失効")):
        with client(pki, name) as c:
            r = c.post(f"{base}/api/v1/auth/login", json=login)
        assert r.status_code == 403, (name, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/certificate-required") and detail in r.json()["detail"]

    # A CA nobody trusts fails the handshake itself (with TLS 1.3 the client sees the server hang up
    # after its own side of the handshake, so no HTTP answer either way).
    with client(pki, "unknown") as c, pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
        c.post(f"{base}/api/v1/auth/login", json=login)

    # No certificate, for a tenant that does not require one: on to auth, and a client's own copy of
    # the certificate headers never passes.
    with client(pki, None) as c:
        r = c.post(f"{base}/api/v1/auth/login", json={**login, "tenant_code": "office-b"},
                   headers={"X-Roumu-Client-Cert": "forged", "X-Roumu-Gateway-Token": "forged"})
    assert r.status_code == 200
    assert header_values(r.json(), "x-roumu-client-cert") == []
    assert header_values(r.json(), "x-roumu-gateway-token") == []


def test_certificate_from_a_trusted_terminator_header(start_gateway, contract, pki):
    """nginx in front (ssl_verify_client optional_no_ca) forwards $ssl_client_escaped_cert: believed
    only from TLS_CLIENT_CERT_TRUSTED, and still checked against the tenant's CA here."""
    app, url = contract
    app.add_tenant("t-a", "office-a", device_cert_required=True)
    app.device_cas["t-a"] = {"ca_pem": pki["ca_a"], "revoked_serials": [pki["revoked_serial"]]}
    valid = Path(pki["valid"][0]).read_text()  # type: ignore[index]
    foreign = Path(pki["foreign"][0]).read_text()  # type: ignore[index]
    from urllib.parse import quote

    login = {"tenant_code": "office-a"}
    trusting = start_gateway({"auth": url, "accounts": url}, tls_client_cert_trusted=["127.0.0.1/32"])
    r = httpx.post(f"{trusting}/api/v1/auth/login", json=login, headers={"X-SSL-Client-Cert": quote(valid)})
    assert r.status_code == 200 and header_values(r.json(), "x-roumu-gateway-token")
    r = httpx.post(f"{trusting}/api/v1/auth/login", json=login, headers={"X-SSL-Client-Cert": quote(foreign)})
    assert r.status_code == 403
    untrusting = start_gateway({"auth": url, "accounts": url})
    r = httpx.post(f"{untrusting}/api/v1/auth/login", json=login, headers={"X-SSL-Client-Cert": quote(valid)})
    assert r.status_code == 403  # from an untrusted peer the header is nobody's certificate
