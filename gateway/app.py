"""The gateway app: `python -m gateway` (or `uvicorn --factory gateway.app:create_app --no-proxy-headers`).

A plain ASGI app rather than FastAPI: every request passes through here, so it carries no routing
framework. One request, in order (cheap refusals first, the body last):

1. path, method and header checks, routing (400/404/405/431);
2. CORS preflight for the configured SPA origin, answered here;
3. rate limit per client address (and the stricter login limit on login/password routes);
4. the bearer token, when there is one, verified against auth's keys (401 if it does not hold);
5. rate limits per user, partner client and tenant;
6. IP allowlists: the global one for operators and administrative paths, the tenant's own;
7. a place in the source's in-flight budget: its tenant, or its address without a token (429);
8. the body: media type (415) and size per route (413), with a deadline and a minimum rate (408);
   read whole when small or without a token, else streamed;
9. on credential routes (small bodies, always whole): the tenant of the login, login step or
   refresh → that tenant's allowlist, login limit and device certificate;
10. the proxy (gateway/proxy.py).

Every refusal of 3–9 is problem+json with a Japanese title and an audit event
(gateway/refusals.py). Every response gets the security headers (gateway/security.py)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import credentials, tls
from gateway.auth import AccessVerifier, FileKeys, HttpKeys, KeySource, bearer_token, invalid_token
from gateway.balancer import FailoverTransport, Replica, Upstream, split_urls, watch_health
from gateway.body import Body, BodyPolicy, ClientDisconnected
from gateway.budgets import Budget
from gateway.console import Console, with_page_policy
from gateway.headers import (
    Downstream,
    Header,
    IPAddress,
    TrustedProxies,
    client_ip,
    parse_ip,
    upstream_headers,
)
from gateway.health import services_health
from gateway.proxy import Proxy, host_port
from gateway.ratelimit import Limiter
from gateway.refusals import RefusalEvents, Refused, ip_not_allowed
from gateway.routing import RouteLabel, Target
from gateway.security import ResponseHeaders
from gateway.settings import GatewaySettings, get_gateway_settings
from gateway.tenants import ServiceTokens, TenantAccess, TenantDirectory, networks
from gateway.upstream import Pool, Timeouts
from shared.errors import ProblemError, UnexpectedErrors, problem_response
from shared.events import Actor
from shared.logging import configure_logging
from shared.metrics import MetricsMiddleware, metrics_endpoint
from shared.nats_auth import GATEWAY
from shared.request_context import RequestIdMiddleware, current_request_id, new_request_id
from shared.serving import DRAINING
from shared.settings import CommonSettings, get_settings
from shared.tokens import Principal, TokenError, TokenSigner
from shared.topology import ROUTED

NAME = "gateway"
# The public Partner API contract (ops/partner_contract.py writes it; `make contracts`).
PARTNER_CONTRACT_PATH = "/api/v1/partner/openapi.json"
PARTNER_CONTRACT_FILE = Path(__file__).resolve().parents[1] / "contracts" / "public" / "partner-api.v1.json"
# The reference rendered from it and the events' AsyncAPI document (ops/reference.py, ops/asyncapi.py):
# static pages without a script, so the strictest CSP holds and nothing comes from a CDN.
_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
PARTNER_FILES: dict[str, tuple[Path, str]] = {
    "/api/v1/partner/docs": (_CONTRACTS / "public" / "partner-api.v1.html", "text/html; charset=utf-8"),
    "/api/v1/partner/docs/events": (_CONTRACTS / "public" / "events.v1.html", "text/html; charset=utf-8"),
    "/api/v1/partner/docs/reference.css": (_CONTRACTS / "public" / "reference.css", "text/css; charset=utf-8"),
    "/api/v1/partner/asyncapi.json": (_CONTRACTS / "asyncapi" / "roumu-events.v1.json", "application/json"),
}
DOCS_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
log = logging.getLogger("roumu.gateway")

Endpoint = Callable[[Request], Awaitable[Response]]


def new_client(gw: GatewaySettings, replicas: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """The control-plane client: health checks, tenant settings, keys, device CAs. `replicas`
    (service → comma-separated URLs): a call to a service's first replica that cannot connect
    moves to the next (gateway/balancer.FailoverTransport)."""
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=gw.keepalive_expiry)
    transport = FailoverTransport(httpx.AsyncHTTPTransport(limits=limits, trust_env=False),
                                  [split_urls(u) for u in (replicas or {}).values()])
    return httpx.AsyncClient(
        transport=transport,
        limits=limits,
        timeout=httpx.Timeout(connect=gw.connect_timeout, read=gw.read_timeout, write=gw.write_timeout,
                              pool=gw.pool_timeout),
        follow_redirects=False,  # a redirect is the client's to follow, not ours
        trust_env=False,  # no HTTP(S)_PROXY or .netrc from the environment on internal calls
        # The default jar would collect every user's Set-Cookie and replay them on health checks.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


class Runtime:
    """What exists only while the app runs (created at startup, closed at shutdown)."""

    def __init__(self, client: httpx.AsyncClient, proxy: Proxy, verifier: AccessVerifier, limiter: Limiter,
                 tenants: TenantDirectory, events: RefusalEvents, devices: tls.DeviceCertificates,
                 health: asyncio.Task[None] | None = None, stop: asyncio.Event | None = None) -> None:
        self.client = client
        self.health = health
        self.stop = stop or asyncio.Event()
        self.proxy = proxy
        self.verifier = verifier
        self.limiter = limiter
        self.tenants = tenants
        self.events = events
        self.devices = devices


class Gateway:
    """Local endpoints by exact path; everything else through the checks to the proxy."""

    def __init__(self, settings: CommonSettings, gw: GatewaySettings, upstreams: Mapping[str, str]) -> None:
        self.settings = settings
        self.gw = gw
        self.upstreams = dict(upstreams)
        self.proxies = TrustedProxies(gw.trusted_proxies)
        self.admin_allowlist = networks(gw.admin_allowlist)
        self.admin_paths = tuple(gw.admin_paths)
        self.metrics_allowlist = networks(gw.metrics_allowlist)
        self.login_paths = frozenset(p.rstrip("/") for p in gw.login_paths)
        self.token_paths = frozenset(p.rstrip("/") for p in gw.token_paths)
        self.tenant_code_paths = frozenset(p.rstrip("/") for p in gw.tenant_code_paths)
        self.refresh_paths = frozenset(p.rstrip("/") for p in gw.refresh_paths)
        self.credential_paths = frozenset(p.rstrip("/") for p in gw.credential_paths) | self.tenant_code_paths \
            | self.refresh_paths | self.token_paths
        self.body_policy = BodyPolicy(gw)
        self.tenant_budget = Budget(gw.concurrency_tenant)
        self.anonymous_budget = Budget(gw.concurrency_anonymous)
        self.response_headers = ResponseHeaders(gw.cors_origin, gw.hsts_seconds)
        self.cert_trusted = TrustedProxies(gw.tls_client_cert_trusted)
        self.cert_header = gw.tls_client_cert_header.lower().encode("latin-1")
        self.ssl_context: ssl.SSLContext | None = tls.server_context(gw)
        self.rt: Runtime | None = None
        self.local: dict[str, Endpoint] = {
            "/healthz": self.healthz,
            "/readyz": self.readyz,
            "/metrics": metrics_endpoint,
            PARTNER_CONTRACT_PATH: self.partner_contract,
            **{path: self.partner_file for path in PARTNER_FILES},
        }
        self.console = Console(Path(gw.console_dir) if gw.console_dir else None, frozenset(self.local))

    # -- ASGI ----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: the server answers 403 to a handshake nobody accepted
        origin: bytes | None = None
        https = scope.get("scheme") == "https"
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"x-forwarded-proto" and value.strip().lower() == b"https" and self.proxies.networks:
                peer = scope.get("client")
                ip = parse_ip(peer[0]) if peer else None
                https = https or (ip is not None and self.proxies.trusts(ip))
        extra = self.response_headers
        console = self.console.serves(scope)
        if console:
            send = with_page_policy(send)

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = extra.apply(list(message.get("headers", [])), origin, https)
            await send(message)

        state = _State(scope)
        try:
            endpoint = self.local.get(scope["path"])
            if endpoint is not None:
                scope["route"] = RouteLabel(scope["path"])
                # The client as the trusted-proxy rules see it: behind a TLS terminator on this host
                # every peer is loopback.
                peer = scope.get("client")
                state.ip = client_ip(scope["headers"], peer[0] if peer else None, self.proxies)
                if scope["path"] == "/metrics":
                    self._metrics_allowlist(state)
                if scope["path"].startswith(self.admin_paths):
                    self._admin_allowlist(state)
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send_secured)
                return
            if console:
                await self.console(scope, receive, send_secured)
                return
            if self.rt is None:
                raise ProblemError(503, "unavailable", "サービスが一時的に利用できません", "起動中です")
            await self.handle(scope, receive, send_secured, state, origin)
        except ProblemError as exc:
            if isinstance(exc, Refused) and self.rt is not None:
                self.rt.events.publish(exc, getattr(scope.get("route"), "path", None) or scope["path"],
                                       state.tenant_id, state.actor(), current_request_id())
            # A body left unread: end the connection rather than parse the rest as the next request.
            close = not state.body_read and _announces_body(scope)
            await problem(exc, scope["path"], close)(scope, receive, send_secured)

    async def handle(self, scope: Scope, receive: Receive, send: Send, state: _State, origin: bytes | None) -> None:
        rt = self.rt
        assert rt is not None
        target = rt.proxy.target(scope)
        scope["route"] = target.label
        peer = scope.get("client")
        state.ip = client_ip(scope["headers"], peer[0] if peer else None, self.proxies)
        path = scope["path"].rstrip("/")

        if scope["method"] == "OPTIONS" and origin is not None:
            await self._preflight(scope, send, origin)
            return

        ip_key = state.ip or "unknown"
        await rt.limiter.hit("ip", ip_key)
        is_login = path in self.login_paths
        if is_login:
            await rt.limiter.hit("login", ip_key)

        token = bearer_token(scope["headers"])
        if token is not None:
            try:
                state.principal = await rt.verifier.verify(token)
            except TokenError:
                raise invalid_token() from None
            p = state.principal
            state.tenant_id = p.tenant_id
            if p.kind == "partner":
                await rt.limiter.hit("partner", p.subject)
                send = _with_headers(send, await rt.limiter.headers("partner", p.subject))
            elif p.kind != "service":
                await rt.limiter.hit("user", p.subject)
            if p.tenant_id:
                await rt.limiter.hit("tenant", p.tenant_id)
            if p.kind == "operator":
                self._admin_allowlist(state)
            if p.tenant_id:
                access = await rt.tenants.by_id(p.tenant_id)
                if access is not None:
                    self._tenant_allowlist(access, state)
        if path.startswith(self.admin_paths):
            self._admin_allowlist(state)

        # Identity, limits and allowlists are settled: take a place in the source's budget before
        # reading a byte of the body or asking any service.
        who = state.principal
        budget = self.anonymous_budget if who is None else self.tenant_budget
        key = "ip:" + ip_key if who is None else (who.tenant_id or "sub:" + who.subject)
        budget.enter(key)
        try:
            await self._forward(scope, receive, send, target, path, state)
        finally:
            budget.leave(key)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, target: Target, path: str,
                       state: _State) -> None:
        rt = self.rt
        assert rt is not None
        # Without a token the body never streams: read whole first, so a slow one holds no upstream slot.
        whole = state.principal is None
        extra_headers: list[Header] = []
        if path in self.credential_paths:
            # Small and read whole (413 beyond): the tenant is known before auth issues a token.
            body = await self.body_policy.read(scope, receive, self.gw.credential_body_bytes, whole=whole)
            state.body_read = True  # always whole here
            body, extra_headers = await self._credential_tenant(scope, path, body, state)
        else:
            body = await self.body_policy.read(scope, receive, whole=whole)
            state.body_read = body.stream is None

        peer = scope.get("client")
        down = Downstream(peer=peer[0] if peer else None, scheme=scope.get("scheme", "http"))
        headers = upstream_headers(scope["headers"], down, self.proxies, current_request_id() or new_request_id())
        headers += extra_headers
        try:
            await rt.proxy.forward(scope, send, target, body, headers)
        except ClientDisconnected:
            return

    # -- the checks ------------------------------------------------------------------------------
    async def _credential_tenant(self, scope: Scope, path: str, body: Body,
                                 state: _State) -> tuple[Body, list[Header]]:
        """The tenant a login, login step or refresh is for → its limits, allowlist and certificate."""
        rt = self.rt
        assert rt is not None
        if path in self.token_paths:
            authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            client_id = credentials.oauth_client_id(authorization, body.data)
            await rt.limiter.hit("token", "client:" + client_id if client_id else "ip:" + (state.ip or "unknown"))
        if path in self.tenant_code_paths:
            code = credentials.tenant_code(body.data)
            if code is None:
                return body, []  # auth refuses a login without one (422): no token either way
            await rt.limiter.hit("login", "tenant:" + code)
            access = await rt.tenants.by_code(code)
            if access is None:
                return body, []
            state.tenant_id = access.tenant_id
            self._tenant_allowlist(access, state)
            return body, await self._device_certificate(scope, access, state)
        if path in self.refresh_paths:
            code = credentials.refresh_code(body.data)
            if code is None:
                # The console's cookie refresh names no tenant: auth judges the allowlist of the
                # session the token belongs to (its own second line, tests/auth/test_allowlist.py).
                return body, []
            access = await rt.tenants.by_code(code)
            if access is None:
                raise credentials.unknown_tenant()
            state.tenant_id = access.tenant_id
            self._tenant_allowlist(access, state)
            return body, []
        tenant_id = credentials.challenge_tenant(body.data)
        if tenant_id is not None:
            access = await rt.tenants.by_id(tenant_id)
            if access is not None:
                state.tenant_id = access.tenant_id
                self._tenant_allowlist(access, state)
        return body, []

    def _admin_allowlist(self, state: _State) -> None:
        if not self.admin_allowlist:
            return
        ip = parse_ip(state.ip)
        if ip is None or not any(ip in net for net in self.admin_allowlist):
            log.warning("refused: operator or administrative route from outside the global allowlist",
                        extra={"client_ip": state.ip})
            raise ip_not_allowed("管理用の経路はこの接続元から利用できません")

    def _metrics_allowlist(self, state: _State) -> None:
        peer = state.ip
        ip = parse_ip(peer)
        if ip is None or not any(ip in net for net in self.metrics_allowlist):
            log.warning("refused: /metrics from outside its allowlist", extra={"client_ip": peer})
            raise ip_not_allowed("監視用の経路はこの接続元から利用できません")

    def _tenant_allowlist(self, access: TenantAccess, state: _State) -> None:
        if not access.allows(parse_ip(state.ip)):
            log.warning("refused: outside the tenant's allowlist",
                        extra={"tenant_id": access.tenant_id, "client_ip": state.ip})
            raise ip_not_allowed("この事務所の設定で許可された接続元ではありません")

    async def _device_certificate(self, scope: Scope, access: TenantAccess, state: _State) -> list[Header]:
        rt = self.rt
        assert rt is not None
        cert = tls.presented_certificate(scope, self.cert_header, self.cert_trusted)
        return await rt.devices.check(cert, access)

    async def _preflight(self, scope: Scope, send: Send, origin: bytes) -> None:
        if not self.response_headers.origin_allowed(origin):
            raise ProblemError(403, "cors-origin-not-allowed", "このオリジンからは利用できません")
        await send({"type": "http.response.start", "status": 204, "headers": self.response_headers.preflight()})
        await send({"type": "http.response.body", "body": b""})

    # -- lifespan ----------------------------------------------------------------------------------
    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                configure_logging(NAME, self.settings.log_level)
                self.rt = await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.rt is not None:
                    await self.stop(self.rt)
                    self.rt = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> Runtime:
        gw = self.gw
        client = new_client(gw, self.upstreams)
        limit = asyncio.Semaphore(gw.max_connections)
        timeouts = Timeouts(gw.connect_timeout, gw.read_timeout, gw.write_timeout, gw.pool_timeout)
        # One pool per replica; each service has its own budget within the global one (two services
        # at one address still count apart), shared by its replicas (gateway/balancer.py).
        upstreams: dict[str, Upstream] = {}
        for name, urls in self.upstreams.items():
            own = asyncio.Semaphore(gw.max_connections_per_service)
            replicas = []
            for url in split_urls(urls):
                host, port = host_port(url)
                replicas.append(Replica(url, Pool(host, port, limit, gw.max_keepalive_connections,
                                                  gw.keepalive_expiry, timeouts, own)))
            upstreams[name] = Upstream(name, replicas, gw.eject_seconds)
        proxy = Proxy(upstreams, self.proxies, gw.max_header_bytes, gw.read_timeout)
        stop = asyncio.Event()
        health = asyncio.create_task(watch_health(client, list(upstreams.values()), gw.health_interval,
                                                  gw.health_timeout, stop), name="gateway-upstream-health")
        source: KeySource
        if gw.jwks_source == "http":
            url = gw.jwks_url or self._control("auth") + "/api/v1/auth/.well-known/jwks.json"
            source = HttpKeys(client, url)
        else:
            source = FileKeys(self.settings.keys_dir)
        verifier = AccessVerifier(source, gw.jwks_cache_seconds, gw.jwks_min_refresh_seconds)
        await verifier.refresh(force=True)
        tokens = ServiceTokens(TokenSigner(self.settings.keys_dir, "internal"))
        tenants = TenantDirectory(client, self._control("accounts"), tokens, gw.tenant_cache_seconds,
                                  gw.tenant_stale_seconds)
        events = RefusalEvents(self.settings.nats_access(GATEWAY), self.settings.nats_stream, gw.events_queue_size,
                               gw.events_enabled, stream_replicas=self.settings.nats_stream_replicas)
        events.on_connect.append(tenants.subscribe)
        events.start()
        devices = tls.DeviceCertificates(client, self._control("auth"), tokens, self.ssl_context, gw)
        devices.start()
        return Runtime(client, proxy, verifier, Limiter(gw), tenants, events, devices, health, stop)

    def _control(self, name: str) -> str:
        """The base URL of control-plane calls to a service (keys, tenant settings, device CAs): its
        first replica. These calls are rare and cached, and each falls back to what it knew
        (tenant settings: TENANT_STALE_SECONDS), so they are not balanced."""
        return split_urls(self.upstreams[name])[0].rstrip("/")

    async def stop(self, rt: Runtime) -> None:
        rt.stop.set()
        if rt.health is not None:
            with suppress(asyncio.CancelledError):
                await rt.health
        await rt.devices.stop()
        await rt.events.stop()
        for upstream in rt.proxy.upstreams.values():
            upstream.close()
        await rt.client.aclose()

    # -- local endpoints ---------------------------------------------------------------------------
    async def healthz(self, _request: Request) -> Response:
        if self.rt is None:
            return problem_response(503, detail="起動中です")
        states = await services_health(self.rt.client, self.upstreams, self.gw.health_timeout)
        if all(s == "up" for s in states.values()):
            return JSONResponse({"status": "ok", "services": states})
        down = ", ".join(n for n, s in states.items() if s == "down")
        return problem_response(503, detail=f"応答しないサービス: {down}",
                                extra={"status": "degraded", "services": states})

    async def partner_contract(self, _request: Request) -> Response:
        """The public Partner API contract (contracts/public/partner-api.v1.json), no token needed."""
        try:
            body = await asyncio.to_thread(PARTNER_CONTRACT_FILE.read_bytes)
        except OSError:
            return problem_response(404, detail="公開 API の定義がありません")
        return Response(body, media_type="application/json",
                        headers={"Cache-Control": "public, max-age=300"})

    async def partner_file(self, request: Request) -> Response:
        """The rendered Partner API reference, its stylesheet and the events' AsyncAPI document."""
        path, media_type = PARTNER_FILES[request.url.path.rstrip("/")]
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except OSError:
            return problem_response(404, detail="公開 API の資料がありません")
        return Response(body, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=300", "Content-Security-Policy": DOCS_CSP})

    async def readyz(self, _request: Request) -> Response:
        # Ready means able to take traffic, not that every service is up: a load balancer that
        # pulled the gateway for one down service would take all the others down with it.
        if self.rt is None:
            return problem_response(503, detail="起動中です")
        if DRAINING.is_set():  # stopping (shared/serving.py): the load balancer sends no more
            return problem_response(503, detail="停止処理中です")
        return JSONResponse({"status": "ready", "service": NAME})


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """`send` adding `headers` to the response head (the partner's rate-limit state)."""
    if not headers:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *headers]
        await send(message)

    return sending


class _State:
    """What the checks learnt about one request, for the refusal event."""

    __slots__ = ("body_read", "ip", "principal", "tenant_id")

    def __init__(self, scope: Scope) -> None:
        peer = scope.get("client")
        self.ip: str | None = peer[0] if peer else None
        self.principal: Principal | None = None
        self.tenant_id: str | None = None
        self.body_read = False

    def actor(self) -> Actor:
        p = self.principal
        if p is None:
            return Actor(kind="system", id="anonymous", ip=self.ip)
        kind: Any = p.kind if p.kind in ("user", "partner", "service", "operator") else "user"
        return Actor(kind=kind, id=p.subject, ip=self.ip)


def _announces_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


def problem(exc: ProblemError, path: str, close: bool = False) -> Response:
    headers = {**exc.headers, "Connection": "close"} if close else exc.headers
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, instance=path,
                            headers=headers, extra=exc.extra)


def _gateway_error(path: str, exc: Exception) -> Response:
    """A bug in the gateway still answers problem+json with the request id, if nothing was sent yet."""
    log.error("gateway error", exc_info=exc, extra={"path": path})
    return problem_response(500, instance=path)


class GatewayApp:
    """The outermost ASGI callable; keeps a handle on the gateway (its TLS context, for the server)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.ssl_context = gateway.ssl_context
        app: ASGIApp = UnexpectedErrors(gateway, _gateway_error)
        app = MetricsMiddleware(app, service=NAME)
        self.app: ASGIApp = RequestIdMiddleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(
    settings: CommonSettings | None = None,
    gateway_settings: GatewaySettings | None = None,
    upstreams: Mapping[str, str] | None = None,
) -> GatewayApp:
    """`upstreams` (service name → base URL) overrides the settings' service URLs, for tests."""
    settings = settings or get_settings()
    gw = gateway_settings or get_gateway_settings()
    urls = {info.name: ",".join(settings.service_urls(info.name)) for info in ROUTED.values()}
    urls.update({k: v for k, v in (upstreams or {}).items() if k in urls})
    return GatewayApp(Gateway(settings, gw, urls))


__all__ = ["IPAddress", "create_app"]
