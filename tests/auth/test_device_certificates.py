"""Device certificates over a real TLS handshake.

A small TLS relay stands in for the gateway (whose TLS and forwarding belong to the Gateway
security issue): it asks for a client certificate, trusts every tenant's device CA (it checks
nothing tenant-specific), and forwards the presented certificate to auth's login with the
gateway token binding it (`cnf.x5t#S256`). Auth decides: this tenant's CA, within validity, not
revoked. The relay skips only the time check (OpenSSL's X509_V_FLAG_NO_CHECK_TIME) so that auth's
own expiry check is what refuses the expired certificate."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.auth import ca
from tests.auth.conftest import API, LOGIN, Tenant, bearer, strong

NO_CHECK_TIME = 0x200000  # OpenSSL X509_V_FLAG_NO_CHECK_TIME


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def csr_for(name: str) -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key)


def server_identity(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "server.key").write_bytes(_key_pem(key))
    return tmp / "server.pem", tmp / "server.key"


class Relay:
    """TLS server requesting client certificates; forwards POSTs to auth (the TestClient)."""

    def __init__(self, auth, gateway_signer, ca_pems: list[str], tmp: Path) -> None:
        cert, key = server_identity(tmp)
        self.server_cert = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata="".join(ca_pems))
        context.verify_flags = ssl.VerifyFlags(context.verify_flags | NO_CHECK_TIME)
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {"Content-Type": "application/json", "X-Roumu-Client-IP": "192.0.2.80"}
                der = self.connection.getpeercert(binary_form=True)
                relay.handshakes.append(der is not None)
                if der:
                    pem = ssl.DER_cert_to_PEM_cert(der)
                    headers["X-Roumu-Client-Cert"] = quote(pem)
                    headers["X-Roumu-Gateway-Token"] = gateway_signer.sign(
                        {"iss": "gateway", "aud": "auth", "typ": "service",
                         "cnf": {"x5t#S256": ca.thumbprint_s256(der)}}, 60)
                r = auth.post(self.path, content=body, headers=headers)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def log_message(self, *args: object) -> None:
                pass

        self.handshakes: list[bool] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def login(self, tmp: Path, body: dict[str, str], cert_pem: str | None, key_pem: bytes | None):
        context = ssl.create_default_context(cafile=str(self.server_cert))
        if cert_pem and key_pem:
            name = uuid.uuid4().hex
            (tmp / f"{name}.pem").write_text(cert_pem)
            (tmp / f"{name}.key").write_bytes(key_pem)
            context.load_cert_chain(tmp / f"{name}.pem", tmp / f"{name}.key")
        conn = http.client.HTTPSConnection("localhost", self.port, context=context, timeout=30)
        try:
            conn.request("POST", LOGIN, body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def relay_factory(tokens):
    opened: list[Relay] = []

    def make(auth, ca_pems, tmp):
        r = Relay(auth, tokens.internal, ca_pems, tmp)
        opened.append(r)
        return r

    yield make
    for r in opened:
        r.close()


def issue(tenant: Tenant, admin: str, label: str, days: int | None = None) -> tuple[dict[str, Any], bytes]:
    csr, key = csr_for(label)
    r = tenant.client.post(f"{API}/device-certificates", json={"csr_pem": csr, "label": label, "days": days},
                           headers=bearer(admin))
    assert r.status_code == 201, r.text
    return r.json(), key


def test_login_with_device_certificates_over_real_tls(tenant, auth, clock, relay_factory, tmp_path):
    pw, admin_pw = strong(), strong("admin")
    tenant.add_user("clerk", pw)
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    other = Tenant(auth, str(uuid.uuid4()), f"o{uuid.uuid4().hex[:8]}")
    other.add_user("boss", admin_pw, roles=("tenant_admin",))
    other_admin = other.token("boss", admin_pw)["access_token"]

    valid, valid_key = issue(tenant, admin, "受付PC-1")
    revoked, revoked_key = issue(tenant, admin, "廃棄PC")
    foreign, foreign_key = issue(other, other_admin, "他テナントPC")
    real_now = clock.now()
    clock.set(real_now - timedelta(days=10))
    expired, expired_key = issue(tenant, admin, "古いPC", days=2)
    clock.set(real_now)
    r = tenant.client.post(f"{API}/device-certificates/{revoked['serial']}/revoke", headers=bearer(admin))
    assert r.status_code == 200 and r.json()["revoked_at"]
    listed = tenant.client.get(f"{API}/device-certificates", headers=bearer(admin)).json()
    assert {c["serial"] for c in listed} == {valid["serial"], revoked["serial"], expired["serial"]}
    assert valid["ca_certificate_pem"] == tenant.client.get(f"{API}/device-ca", headers=bearer(admin)).json()[
        "certificate_pem"]

    tenant.settings(device_cert_required=True)
    relay = relay_factory(auth, [valid["ca_certificate_pem"], foreign["ca_certificate_pem"]], tmp_path)
    body = {"tenant_code": tenant.code, "login_id": "clerk", "password": pw}

    status, answer = relay.login(tmp_path, body, valid["certificate_pem"], valid_key)
    assert status == 200 and answer["status"] == "authenticated", answer
    refused = {}
    for name, cert, key in (("revoked", revoked, revoked_key), ("foreign", foreign, foreign_key),
                            ("expired", expired, expired_key), ("missing", None, None)):
        status, answer = relay.login(tmp_path, body, cert["certificate_pem"] if cert else None, key)
        refused[name] = (status, answer["type"])
    assert set(refused.values()) == {(401, "https://roumu.example/problems/login-failed")}, refused
    assert relay.handshakes == [True, True, True, True, False]  # real handshakes, with certificates

    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.login.failed")
               if e["subject"]["user_id"] == tenant.users["clerk"]]
    assert reasons[-4:] == ["device_certificate_revoked", "device_certificate_foreign",
                            "device_certificate_expired", "device_certificate_missing"]
    # Not counted toward the lockout: the password was right, the device was not.
    status, _ = relay.login(tmp_path, body, valid["certificate_pem"], valid_key)
    assert status == 200
    issued = [e for e in tenant.events("roumu.auth.device_certificate.issued")]
    assert len(issued) == 3 and tenant.events("roumu.auth.device_certificate.revoked")


def test_certificate_header_without_the_gateway_binding_is_not_trusted(tenant, tokens, clock):
    pw, admin_pw = strong(), strong("admin")
    tenant.add_user("clerk", pw)
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    cert, _ = issue(tenant, admin, "PC")
    tenant.settings(device_cert_required=True)
    pem = quote(cert["certificate_pem"])
    der = x509.load_pem_x509_certificate(cert["certificate_pem"].encode()).public_bytes(serialization.Encoding.DER)
    good_binding = {"iss": "gateway", "aud": "auth", "typ": "service", "cnf": {"x5t#S256": ca.thumbprint_s256(der)}}
    attempts = {
        "no token": {"X-Roumu-Client-Cert": pem},
        "token for another cert": {"X-Roumu-Client-Cert": pem, "X-Roumu-Gateway-Token": tokens.internal.sign(
            {**good_binding, "cnf": {"x5t#S256": ca.thumbprint_s256(b"other")}}, 60)},
        "not from the gateway": {"X-Roumu-Client-Cert": pem, "X-Roumu-Gateway-Token": tokens.internal.sign(
            {**good_binding, "iss": "files"}, 60)},
        "a user token": {"X-Roumu-Client-Cert": pem, "X-Roumu-Gateway-Token": tokens.user(tenant.tenant_id)},
    }
    for name, headers in attempts.items():
        assert tenant.login("clerk", pw, headers=headers).status_code == 401, name
    ok = tenant.login("clerk", pw, headers={"X-Roumu-Client-Cert": pem,
                                            "X-Roumu-Gateway-Token": tokens.internal.sign(good_binding, 60)})
    assert ok.status_code == 200, ok.text


def test_ca_key_is_sealed_and_csr_cannot_ask_for_a_ca(tenant):
    from services.auth.models import TenantCa

    admin_pw = strong("admin")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    cert, _ = issue(tenant, admin, "PC")
    issued = x509.load_pem_x509_certificate(cert["certificate_pem"].encode())
    assert issued.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    with tenant.rt.db.transaction() as s:
        row = s.get(TenantCa, tenant.tenant_id)
    assert "PRIVATE KEY" not in row.key_sealed
    bad = tenant.client.post(f"{API}/device-certificates", json={"csr_pem": "garbage", "label": "x"},
                             headers=bearer(admin))
    assert bad.status_code == 422


def test_gateway_reads_one_tenants_ca_and_revocations_from_auth(tenant, auth, tokens):
    """The per-tenant endpoint the gateway checks a presented certificate against at login, read
    by the gateway's own client code (gateway.tls.DeviceCertificates) from the real auth app."""
    import asyncio

    import httpx

    from gateway.settings import GatewaySettings
    from gateway.tenants import ServiceTokens
    from gateway.tls import DeviceCertificates

    admin_pw = strong("admin")
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    path = f"{API}/internal/device-ca/{tenant.tenant_id}"
    gateway_token = bearer(tokens.service("gateway", "auth"))
    assert tenant.client.get(path, headers=gateway_token).status_code == 404  # no CA yet
    kept, _ = issue(tenant, admin, "PC-1")
    gone, _ = issue(tenant, admin, "PC-2")
    assert tenant.client.post(f"{API}/device-certificates/{gone['serial']}/revoke",
                              headers=bearer(admin)).status_code in (200, 204)

    r = tenant.client.get(path, headers=gateway_token)
    assert r.status_code == 200, r.text
    assert r.json()["revoked_serials"] == [gone["serial"]] and "PRIVATE" not in r.text
    assert tenant.client.get(path, headers=bearer(tokens.service("files", "auth"))).status_code == 403
    assert tenant.client.get(path, headers=bearer(admin)).status_code == 403
    assert tenant.client.get(f"{API}/internal/device-ca/{uuid.uuid4()}", headers=gateway_token).status_code == 404

    async def read() -> object:
        transport = httpx.ASGITransport(app=auth.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            certs = DeviceCertificates(client, "http://auth", ServiceTokens(tokens.internal), None, GatewaySettings())
            return await certs.tenant_ca(tenant.tenant_id)

    authority = asyncio.run(read())
    assert authority is not None
    leaf = x509.load_pem_x509_certificate(kept["certificate_pem"].encode())
    leaf.verify_directly_issued_by(authority.ca)  # type: ignore[attr-defined]
    revoked_leaf = x509.load_pem_x509_certificate(gone["certificate_pem"].encode())
    assert authority.revoked == frozenset({revoked_leaf.serial_number})  # type: ignore[attr-defined]


def test_revoking_a_certificate_ends_the_sessions_that_logged_in_with_it(tenant, tokens, clock):
    """Revoking a device certificate (a stolen laptop) ends the sessions begun with it, in every
    service (roumu.auth.session.revoked); sessions from other devices go on."""
    pw, admin_pw = strong(), strong("admin")
    tenant.add_user("clerk", pw)
    tenant.add_user("boss", admin_pw, roles=("tenant_admin",))
    admin = tenant.token("boss", admin_pw)["access_token"]
    stolen, _ = issue(tenant, admin, "stolen PC")
    kept, _ = issue(tenant, admin, "office PC")
    tenant.settings(device_cert_required=True)

    def presenting(cert: dict[str, Any]) -> dict[str, str]:
        der = x509.load_pem_x509_certificate(cert["certificate_pem"].encode()).public_bytes(
            serialization.Encoding.DER)
        return {"X-Roumu-Client-Cert": quote(cert["certificate_pem"]), "X-Roumu-Gateway-Token": tokens.internal.sign(
            {"iss": "gateway", "aud": "auth", "typ": "service", "cnf": {"x5t#S256": ca.thumbprint_s256(der)}}, 60)}

    on_stolen = tenant.login("clerk", pw, headers=presenting(stolen)).json()
    on_kept = tenant.login("clerk", pw, headers=presenting(kept)).json()
    r = tenant.client.post(f"{API}/device-certificates/{stolen['serial']}/revoke", headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert tenant.client.get(f"{API}/me", headers=bearer(on_stolen["access_token"])).status_code == 401
    assert tenant.client.post(f"{API}/token/refresh",
                              json={"refresh_token": on_stolen["refresh_token"]}).status_code == 401
    assert tenant.client.get(f"{API}/me", headers=bearer(on_kept["access_token"])).status_code == 200
    reasons = [e["data"]["reason"] for e in tenant.events("roumu.auth.session.revoked")
               if e["subject"]["session_id"] == on_stolen["session_id"]]
    assert reasons == ["device_certificate_revoked"]
