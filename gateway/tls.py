"""TLS termination, client (device) certificates, and what the gateway tells auth about them.

Two ways in, one check:

* **The gateway terminates TLS** (TLS_CERTFILE / TLS_KEYFILE). With TLS_CLIENT_CERTS it asks for
  an optional client certificate; the handshake accepts only certificates chaining to a CA it knows
  (every tenant's device CA, fetched from auth's `GET /api/v1/auth/device-cas` and added to the live
  context every DEVICE_CA_REFRESH_SECONDS, plus TLS_CLIENT_CA_FILE). An unknown issuer fails the
  handshake itself: no HTTP answer is possible then. The server protocol (gateway/server.py) puts
  the verified leaf into the ASGI scope (`extensions.tls.client_cert_chain`).
* **A TLS terminator in front** (nginx, `ssl_verify_client optional_no_ca`) forwards the
  certificate URL-encoded in TLS_CLIENT_CERT_HEADER, believed only from TLS_CLIENT_CERT_TRUSTED.

Either way, at login (the tenant known from the body) the gateway checks the certificate against
that tenant's CA and revoked serials (`GET /api/v1/auth/internal/device-ca/{tenant_id}` →
`{"ca_pem", "revoked_serials"}`) and refuses (403 problem+json, audit event) a certificate from
another CA, a revoked or expired one, and none at all when the tenant requires one. A certificate
that passes goes to auth as `X-Roumu-Client-Cert` (URL-encoded PEM) with `X-Roumu-Gateway-Token`, a
service token (gateway → auth) whose `cnf.x5t#S256` binds it to that certificate; auth checks again.
When the tenant has no device CA yet (404), the gateway forwards and auth decides."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import ssl
import time
from datetime import UTC, datetime
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from starlette.types import Scope

from gateway.headers import Header, TrustedProxies, parse_ip
from gateway.refusals import certificate_refused
from gateway.settings import GatewaySettings
from gateway.tenants import ServiceTokens, TenantAccess

log = logging.getLogger("roumu.gateway")

CERT_HEADER = b"x-roumu-client-cert"
GATEWAY_TOKEN_HEADER = b"x-roumu-gateway-token"

_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}


def server_context(gw: GatewaySettings) -> ssl.SSLContext | None:
    """The server's TLS context, one per process and configuration (the uvicorn server and the app
    share it: the app adds device CAs to it as tenants get them)."""
    if gw.tls_certfile is None:
        return None
    key = (gw.tls_certfile, gw.tls_keyfile, gw.tls_client_certs, gw.tls_client_ca_file)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(gw.tls_certfile), str(gw.tls_keyfile) if gw.tls_keyfile else None)
        if gw.tls_client_certs:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            if gw.tls_client_ca_file is not None:
                ctx.load_verify_locations(cafile=str(gw.tls_client_ca_file))
        _CONTEXTS[key] = ctx
    return ctx


def scope_tls(transport: object) -> dict[str, object] | None:
    """The ASGI TLS extension for a connection (None when it is plain HTTP)."""
    get = getattr(transport, "get_extra_info", None)
    ssl_object = get("ssl_object") if get else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    return {"client_cert_chain": chain, "tls_version": None, "cipher_suite": None, "server_cert": None}


def presented_certificate(scope: Scope, header: bytes, trusted: TrustedProxies) -> x509.Certificate | None:
    """The client certificate of this request: from our own TLS handshake, or from a trusted
    terminator's header (any other peer's copy of that header is ignored)."""
    ext = (scope.get("extensions") or {}).get("tls")
    if ext and ext.get("client_cert_chain"):
        return x509.load_pem_x509_certificate(str(ext["client_cert_chain"][0]).encode())
    if not trusted.networks:
        return None
    peer = scope.get("client")
    ip = parse_ip(peer[0]) if peer else None
    if ip is None or not trusted.trusts(ip):
        return None
    for name, value in scope["headers"]:
        if name == header and value:
            try:
                return x509.load_pem_x509_certificate(unquote_to_bytes(value.replace(b"\t", b"\n")))
            except ValueError:
                log.warning("unreadable client certificate from the TLS terminator")
                return None
    return None


def thumbprint_s256(cert: x509.Certificate) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class TenantCa:
    def __init__(self, ca: x509.Certificate, revoked: frozenset[int]) -> None:
        self.ca = ca
        self.revoked = revoked


class DeviceCertificates:
    def __init__(self, client: httpx.AsyncClient, auth_url: str, tokens: ServiceTokens,
                 context: ssl.SSLContext | None, gw: GatewaySettings) -> None:
        self.client = client
        self.auth = auth_url.rstrip("/") + "/api/v1/auth/"
        self.tokens = tokens
        self.context = context if gw.tls_client_certs else None
        self.refresh_s = gw.device_ca_refresh_seconds
        self.ttl = gw.tenant_cache_seconds
        self.cache: dict[str, tuple[TenantCa | None, float]] = {}
        self.loaded: set[bytes] = set()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.context is not None:
            self.task = asyncio.get_running_loop().create_task(self._refresh_loop(), name="gateway-device-cas")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def trust(self, pem: str) -> None:
        """Accept client certificates of this CA in new handshakes."""
        if self.context is None:
            return
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
        if der not in self.loaded:
            self.context.load_verify_locations(cadata=der)
            self.loaded.add(der)

    async def _refresh_loop(self) -> None:
        while True:
            try:
                r = await self.client.get(self.auth + "device-cas", timeout=5.0,
                                          headers={"Authorization": f"Bearer {self.tokens.get('auth')}"})
                if r.status_code == 200:
                    for item in r.json().get("certificates", []):
                        self.trust(str(item["certificate_pem"]))
                else:
                    log.warning("device CAs unavailable", extra={"status": r.status_code})
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("device CAs unavailable", extra={"error": type(exc).__name__})
            await asyncio.sleep(self.refresh_s)

    async def tenant_ca(self, tenant_id: str) -> TenantCa | None:
        hit = self.cache.get(tenant_id)
        now = time.monotonic()
        if hit is not None and now - hit[1] < self.ttl:
            return hit[0]
        try:
            r = await self.client.get(self.auth + "internal/device-ca/" + quote(tenant_id, safe=""), timeout=2.0,
                                      headers={"Authorization": f"Bearer {self.tokens.get('auth')}"})
        except httpx.HTTPError as exc:
            log.warning("tenant device CA unavailable", extra={"error": type(exc).__name__})
            return hit[0] if hit else None
        answer: TenantCa | None = None
        if r.status_code == 200:
            try:
                data = r.json()
                ca = x509.load_pem_x509_certificate(str(data["ca_pem"]).encode())
                revoked = frozenset(int(str(s), 16) for s in data.get("revoked_serials") or [])
                answer = TenantCa(ca, revoked)
                self.trust(str(data["ca_pem"]))
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable tenant device CA")
        self.cache[tenant_id] = (answer, now)
        return answer

    async def check(self, cert: x509.Certificate | None, access: TenantAccess) -> list[Header]:
        """Headers for auth when the certificate holds for this tenant; Refused when it does not."""
        if cert is None:
            if access.device_cert_required:
                raise certificate_refused("この事務所では端末証明書が必要です")
            return []
        authority = await self.tenant_ca(access.tenant_id)
        if authority is not None:
            try:
                cert.verify_directly_issued_by(authority.ca)
            except (ValueError, TypeError, InvalidSignature):
                raise certificate_refused("この事務所の端末証明書ではありません") from None
            if cert.serial_number in authority.revoked:
                raise certificate_refused("端末証明書は失効しています")
            now = datetime.now(UTC)
            if not (cert.not_valid_before_utc <= now < cert.not_valid_after_utc):
                raise certificate_refused("端末証明書の有効期間外です")
        pem = cert.public_bytes(serialization.Encoding.PEM)
        token = self.tokens.signer.sign({"iss": "gateway", "aud": "auth", "typ": "service",
                                         "tid": access.tenant_id,
                                         "cnf": {"x5t#S256": thumbprint_s256(cert)}}, 60)
        return [(CERT_HEADER, quote_from_bytes(pem, safe="").encode("ascii")),
                (GATEWAY_TOKEN_HEADER, token.encode("ascii"))]


