"""App factory of the e-Gov sandbox: `uvicorn --factory services.egov_sandbox.app:create_app`.

Built from shared pieces (errors, request ids, metrics, logging, Database) rather than
shared.service_app: that factory starts an outbox relay and a NATS connection and reports NATS in
/readyz, and the sandbox — standing in for e-Gov, outside Roumu — has no business on our NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.egov_sandbox.api import router
from services.egov_sandbox.egov import install_egov_error_handlers
from shared.db import Database
from shared.errors import install_error_handlers, problem_response
from shared.logging import configure_logging
from shared.metrics import MetricsMiddleware, metrics_endpoint
from shared.request_context import RequestIdMiddleware
from shared.settings import CommonSettings, get_settings

NAME = "egov_sandbox"


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    """`background` is accepted for the one factory signature every service has; the sandbox
    runs no background tasks yet (issue 8's scripted case progress will)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(NAME, settings.log_level)
        app.state.db = Database(settings.database_url(NAME))
        try:
            yield
        finally:
            app.state.db.dispose()

    app = FastAPI(title="e-Gov 電子申請API sandbox", version="2.0.0", lifespan=lifespan)
    install_error_handlers(app)
    install_egov_error_handlers(app)  # replaces the handlers that e-Gov answers differently
    app.add_middleware(MetricsMiddleware, service=NAME)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": NAME}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        try:
            await asyncio.to_thread(db.ping)
        except Exception as exc:
            return problem_response(503, detail="依存先に接続できません",
                                    extra={"checks": {"database": f"down: {type(exc).__name__}"}})
        return JSONResponse({"status": "ready", "service": NAME, "checks": {"database": "ok"}})

    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.include_router(router)
    return app
