"""App factory of the e-Gov sandbox: `uvicorn --factory services.egov_sandbox.app:create_app`.

Built on shared.service_app like every service, so /healthz, /readyz and /metrics behave the
same everywhere. Its relay has nothing to send: the sandbox stands in for e-Gov, outside Roumu,
and never records an event (see events.py). Its HTTP errors are e-Gov's shapes, not ours."""

from __future__ import annotations

from fastapi import FastAPI

from services.egov_sandbox.api import router
from services.egov_sandbox.egov import install_egov_error_handlers
from services.egov_sandbox.models import messaging
from shared.service_app import create_service_app
from shared.settings import CommonSettings

NAME = "egov_sandbox"


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    app = create_service_app(NAME, messaging, [router], settings=settings, background=background,
                             title="e-Gov 電子申請API sandbox")
    install_egov_error_handlers(app)  # replaces the handlers whose answers e-Gov shapes differently
    return app
