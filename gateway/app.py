"""The gateway app: `uvicorn --factory gateway.app:create_app` (or `python -m gateway`).

A plain ASGI app rather than FastAPI: every request passes through here, so it carries no routing
framework, only the proxy, three local endpoints and pure-ASGI middlewares. Later middlewares
(token check, rate limits, IP allowlists) go into `_middlewares`, outside the proxy and inside the
request id, so their refusals carry the id too."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.headers import TrustedProxies
from gateway.health import services_health
from gateway.proxy import Proxy
from gateway.routing import RouteLabel
from gateway.settings import GatewaySettings, get_gateway_settings
from shared.errors import ProblemError, problem_response
from shared.logging import configure_logging
from shared.metrics import MetricsMiddleware, metrics_endpoint
from shared.request_context import RequestIdMiddleware
from shared.settings import CommonSettings, get_settings
from shared.topology import ROUTED

NAME = "gateway"
log = logging.getLogger("roumu.gateway")

Endpoint = Callable[[Request], Awaitable[Response]]


def new_client(gw: GatewaySettings) -> httpx.AsyncClient:
    """The one pooled client every request and health check shares."""
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=gw.max_connections,
            max_keepalive_connections=gw.max_keepalive_connections,
            keepalive_expiry=gw.keepalive_expiry,
        ),
        timeout=httpx.Timeout(
            connect=gw.connect_timeout, read=gw.read_timeout, write=gw.write_timeout, pool=gw.pool_timeout
        ),
        follow_redirects=False,  # a redirect is the client's to follow, not ours
        trust_env=False,  # no HTTP(S)_PROXY or .netrc from the environment on internal calls
        # The default jar would collect every user's Set-Cookie and replay them on health checks.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


class Gateway:
    """Local endpoints by exact path; everything else to the proxy. Owns the client's lifetime."""

    def __init__(self, settings: CommonSettings, gw: GatewaySettings, upstreams: Mapping[str, str]) -> None:
        self.settings = settings
        self.gw = gw
        self.upstreams = dict(upstreams)
        self.proxies = TrustedProxies(gw.trusted_proxies)
        self.proxy: Proxy | None = None
        self.local: dict[str, Endpoint] = {
            "/healthz": self.healthz,
            "/readyz": self.readyz,
            "/metrics": metrics_endpoint,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: the server answers 403 to a handshake nobody accepted
        endpoint = self.local.get(scope["path"])
        try:
            if endpoint is not None:
                scope["route"] = RouteLabel(scope["path"])
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
            if self.proxy is None:
                raise ProblemError(503, "unavailable", "サービスが一時的に利用できません", "起動中です")
            await self.proxy(scope, receive, send)
        except ProblemError as exc:
            await problem(exc, scope["path"])(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                configure_logging(NAME, self.settings.log_level)
                client = new_client(self.gw)
                self.proxy = Proxy(client, self.upstreams, self.proxies, self.gw.max_header_bytes)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.proxy is not None:
                    await self.proxy.client.aclose()
                    self.proxy = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def healthz(self, _request: Request) -> Response:
        if self.proxy is None:
            return problem_response(503, detail="起動中です")
        states = await services_health(self.proxy.client, self.upstreams, self.gw.health_timeout)
        if all(s == "up" for s in states.values()):
            return JSONResponse({"status": "ok", "services": states})
        down = ", ".join(n for n, s in states.items() if s == "down")
        return problem_response(503, detail=f"応答しないサービス: {down}",
                                extra={"status": "degraded", "services": states})

    async def readyz(self, _request: Request) -> Response:
        # Ready means able to take traffic, not that every service is up: a load balancer that
        # pulled the gateway for one down service would take all the others down with it.
        if self.proxy is None:
            return problem_response(503, detail="起動中です")
        return JSONResponse({"status": "ready", "service": NAME})


def problem(exc: ProblemError, path: str) -> Response:
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, instance=path,
                            headers=exc.headers, extra=exc.extra)


class CatchAll:
    """A bug in the gateway still answers problem+json with the request id, if nothing was sent yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("gateway error", extra={"path": scope.get("path")})
            if started:
                raise
            await problem_response(500, instance=scope.get("path"))(scope, receive, send)


def _middlewares(app: ASGIApp) -> ASGIApp:
    """Innermost first. Auth, rate limits and allowlists belong between CatchAll and the metrics."""
    app = CatchAll(app)
    app = MetricsMiddleware(app, service=NAME)
    return RequestIdMiddleware(app)


def create_app(
    settings: CommonSettings | None = None,
    gateway_settings: GatewaySettings | None = None,
    upstreams: Mapping[str, str] | None = None,
) -> ASGIApp:
    """`upstreams` (service name → base URL) overrides the settings' service URLs, for tests."""
    settings = settings or get_settings()
    gw = gateway_settings or get_gateway_settings()
    urls = {info.name: settings.service_url(info.name) for info in ROUTED.values()}
    urls.update({k: v for k, v in (upstreams or {}).items() if k in urls})
    return _middlewares(Gateway(settings, gw, urls))
