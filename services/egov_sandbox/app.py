"""App factory of the e-Gov sandbox: `uvicorn --factory services.egov_sandbox.app:create_app`.

Built on shared.service_app like every service, so /healthz, /readyz and /metrics behave the
same everywhere. Its relay has nothing to send: the sandbox stands in for e-Gov, outside Roumu,
and never records an event (see events.py). Its HTTP errors are e-Gov's shapes, not ours."""

from __future__ import annotations

from fastapi import FastAPI

from services.egov_sandbox.api import auth_router, control_router, router
from services.egov_sandbox.control import Control
from services.egov_sandbox.egov import install_egov_error_handlers
from services.egov_sandbox.models import messaging
from services.egov_sandbox.officials import make_officials
from services.egov_sandbox.recording import SandboxMiddleware
from services.egov_sandbox.settings import SandboxSettings
from shared.db import Database
from shared.service_app import Runtime, create_service_app
from shared.settings import CommonSettings

NAME = "egov_sandbox"


def create_app(settings: CommonSettings | None = None, background: bool = True,
               sandbox_settings: SandboxSettings | None = None) -> FastAPI:
    control = Control()
    cfg = sandbox_settings or SandboxSettings()

    def on_startup(rt: Runtime) -> None:
        rt.extras.update(control=control, sandbox_settings=cfg, officials=make_officials())

    app = create_service_app(NAME, messaging, [auth_router, router, control_router], settings=settings,
                             background=background, title="e-Gov 電子申請API sandbox", on_startup=on_startup)
    install_egov_error_handlers(app)  # replaces the handlers whose answers e-Gov shapes differently

    def db() -> Database:
        rt: Runtime = app.state.runtime
        return rt.db

    app.add_middleware(SandboxMiddleware, control=control, db=db)
    return app
