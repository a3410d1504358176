"""The app factory every service uses: health, readiness, metrics, errors, request ids, the
outbox relay and the service's event consumers, started and stopped with the app."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from nats.aio.client import Client as NATS
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.consumer import EventConsumer, Handler
from shared.db import Database
from shared.errors import PROBLEM_JSON, install_error_handlers, problem_response
from shared.events import EventEnvelope
from shared.frame_middleware import FrameMiddleware
from shared.jigyosho_directory import JigyoshoDirectory
from shared.keys import ensure_keys
from shared.logging import configure_logging
from shared.metrics import metrics_endpoint
from shared.nats_client import connect
from shared.openapi_polish import operation_id_function, polish
from shared.outbox import Messaging
from shared.permissions import Permissions
from shared.purge import TenantPurge, holds_tenant_data
from shared.relay import OutboxRelay
from shared.revocation import RevokedSessions
from shared.serving import DRAINING
from shared.settings import CommonSettings, get_settings
from shared.tokens import TokenVerifier
from shared.topology import ACCOUNTS_FEED, BY_NAME, CONSUMES

if TYPE_CHECKING:
    from shared.tenant_export import Extra

log = logging.getLogger("roumu.app")


@dataclass(frozen=True)
class Subscription:
    """A durable consumer a service runs: name, subject filter, handler(session, event)."""

    durable: str
    subject: str
    handler: Handler
    ack_wait: float = 30.0


@dataclass
class Runtime:
    """What a running service holds; routes reach it through request.app.state.runtime."""

    name: str
    settings: CommonSettings
    db: Database
    messaging: Messaging
    verifier: TokenVerifier
    relay: OutboxRelay
    consumers: list[EventConsumer] = field(default_factory=list)
    nats: NATS | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    permissions: Permissions | None = None
    revoked: RevokedSessions | None = None
    jigyosho_directory: JigyoshoDirectory | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """The unit of work of a use case: rows and outbox events commit together, then the
        relay is woken so the events leave at once."""
        with self.db.transaction() as session:
            yield session
        self.relay.notify()


def create_service_app(
    name: str,
    messaging: Messaging,
    routers: Sequence[APIRouter],
    *,
    subscriptions: Sequence[Subscription] = (),
    settings: CommonSettings | None = None,
    background: bool = True,
    title: str | None = None,
    on_startup: Callable[[Runtime], None] | None = None,
    permissions: Permissions | None = None,
    purge: bool = True,
    purge_keep: Sequence[str] = (),
    accounts_feed: bool = True,
    background_tasks: Sequence[Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]] = (),
    jigyosho_directory: JigyoshoDirectory | None = None,
    tenant_export: Extra | None = None,
) -> FastAPI:
    """`permissions`: the service's permission read model (shared.permissions), for
    `shared.auth_deps.require_menu`. `purge`: delete a tenant's rows on
    roumu.accounts.tenant.purge_requested (shared.purge) when the service holds tenant data;
    `purge_keep` names tables the generic purge leaves alone. Both are fed by one durable consumer
    of roumu.accounts.> ("accounts-feed"), so they apply in the order accounts published them;
    `accounts_feed=False` leaves that consumer out for a service that routes those events through
    a consumer of its own (`accounts_feed_handler`). `background_tasks`: coroutines run beside the
    relay (e.g. a scheduler), given the runtime and the stop event. `jigyosho_directory`: the
    service's read model of the 事業所 master (shared.jigyosho_directory), fed by the same
    "accounts-feed" consumer (a service with its own feed passes it to `accounts_feed_handler`).
    A service holding tenant data also serves its share of the tenant export (shared.tenant_export,
    the same rows the purge deletes); `tenant_export` adds the service's own members to it."""
    settings = settings or get_settings()
    feed = accounts_feed_handler(permissions, TenantPurge(name, messaging, purge_keep)
                                 if purge and holds_tenant_data(messaging.outbox.metadata) else None,
                                 jigyosho_directory)
    if accounts_feed and feed is not None:
        subscriptions = [*subscriptions, Subscription(*ACCOUNTS_FEED, feed)]
    for s in subscriptions:
        if (s.durable, s.subject) not in CONSUMES.get(name, ()):
            # The NATS server would refuse the consumer (shared/nats_auth.py): say so now.
            raise ValueError(f"{name} consumes {s.subject} as {s.durable}, not listed in shared/topology.CONSUMES")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(name, settings.log_level)
        ensure_keys(settings.keys_dir)
        nats = settings.nats_access(name)
        url = settings.database_url(name)
        db = Database(url, **settings.db_pool_options(url))
        replicas = settings.nats_stream_replicas
        relay = OutboxRelay(name, db, messaging, nats, settings.nats_stream,
                            interval=settings.relay_interval_seconds, batch_size=settings.relay_batch_size,
                            stream_replicas=replicas)
        rt = Runtime(name, settings, db, messaging, TokenVerifier(settings.keys_dir), relay,
                     permissions=permissions, jigyosho_directory=jigyosho_directory,
                     revoked=RevokedSessions(nats, settings.nats_stream, stream_replicas=replicas))
        rt.consumers = [
            EventConsumer(f"{name}-{s.durable}", s.subject, s.handler, db, messaging,
                          nats, settings.nats_stream, ack_wait=s.ack_wait, stream_replicas=replicas)
            for s in subscriptions
        ]
        app.state.runtime = rt
        if on_startup:
            on_startup(rt)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if background:
            tasks.append(asyncio.create_task(relay.run(stop), name=f"{name}-relay"))
            tasks += [asyncio.create_task(c.run(stop), name=c.durable) for c in rt.consumers]
            tasks.append(asyncio.create_task(_health_connection(rt, stop), name=f"{name}-nats-health"))
            assert rt.revoked is not None
            tasks.append(asyncio.create_task(rt.revoked.run(stop), name=f"{name}-revocations"))
            tasks += [asyncio.create_task(job(rt, stop), name=f"{name}-task-{i}")
                      for i, job in enumerate(background_tasks)]
        try:
            yield
        finally:
            stop.set()
            for t in tasks:
                with suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(t, timeout=5)
            if rt.nats is not None and not rt.nats.is_closed:
                with suppress(Exception):
                    await rt.nats.close()
            db.dispose()

    app = FastAPI(title=title or f"Roumu {name}", version="1.0.0", lifespan=lifespan,
                  generate_unique_id_function=operation_id_function(name))
    # One pure-ASGI layer for the request id, the metrics and unexpected errors (it was three).
    install_error_handlers(app, unexpected_middleware=False)
    app.add_middleware(FrameMiddleware, service=name)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        if DRAINING.is_set():  # stopping (shared/serving.py): no new requests here, please
            return problem_response(503, detail="停止処理中です", extra={"checks": {"process": "draining"}})
        rt: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            await asyncio.to_thread(rt.db.ping)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {type(exc).__name__}"
        checks["nats"] = "ok" if rt.nats is not None and rt.nats.is_connected else "down"
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "service": name, "checks": checks})
        return problem_response(503, detail="依存先に接続できません", extra={"checks": checks})

    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    for r in routers:
        app.include_router(r)
    if holds_tenant_data(messaging.outbox.metadata) and BY_NAME[name].route:  # not the e-Gov stand-in
        from shared.tenant_export import export_router  # it depends on auth_deps, which imports us

        app.include_router(export_router(name, messaging.outbox.metadata, tenant_export))
    _add_problem_schema(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    """Routes refer to #/components/schemas/Problem for their errors: define it once, and add
    what shared.openapi_polish adds (operation ids, security, headers, named enums)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            _validation_errors_are_problems(schema)
            if "HTTPValidationError" not in json.dumps(schema["paths"]):
                schemas.pop("HTTPValidationError", None)
                schemas.pop("ValidationError", None)
            polish(schema, app.routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _validation_errors_are_problems(schema: dict[str, Any]) -> None:
    """FastAPI documents its own 422 body (HTTPValidationError, application/json) on every route
    with parameters; shared.errors answers problem+json instead, so the contract says that."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for op in operations.values():
            resp = op.get("responses", {}).get("422") if isinstance(op, dict) else None
            if resp and "application/json" in resp.get("content", {}):
                resp["content"] = problem
                resp["description"] = "入力内容に誤りがあります"


async def _health_connection(rt: Runtime, stop: asyncio.Event) -> None:
    """One long-lived connection whose state /readyz reports; it reconnects on its own."""
    while not stop.is_set() and rt.nats is None:
        try:
            rt.nats = await connect(rt.settings.nats_access(rt.name), f"{rt.name}-health")
        except Exception:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


def accounts_feed_handler(permissions: Permissions | None, purge: TenantPurge | None,
                          jigyosho_directory: JigyoshoDirectory | None = None) -> Handler | None:
    """One handler for what every service learns from accounts: grants, the 事業所 master (when
    the service keeps it) and purge requests, in the order accounts published them."""
    if permissions is None and purge is None and jigyosho_directory is None:
        return None

    def handle(session: Session, event: EventEnvelope) -> None:
        if permissions is not None:
            permissions.handle(session, event)
        if jigyosho_directory is not None:
            jigyosho_directory.handle(session, event)
        if purge is not None:
            purge.handle(session, event)

    return handle


async def runtime(request: Request) -> Runtime:
    """The dependency (`Annotated[Runtime, Depends(runtime)]`). Async on purpose: FastAPI runs a
    sync dependency in the thread pool, a hop through anyio's 40 threads for an attribute read,
    on every request of every route (under load it queued behind the endpoints' own work)."""
    return runtime_of(request)


def runtime_of(request: Request) -> Runtime:
    """The runtime, from plain (sync) code."""
    rt: Runtime = request.app.state.runtime
    return rt
