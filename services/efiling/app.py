"""App factory of the efiling service: `uvicorn --factory services.efiling.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from services.efiling.api import router
from services.efiling.models import messaging, permissions
from shared.service_app import create_service_app
from shared.settings import CommonSettings

NAME = "efiling"


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    return create_service_app(NAME, messaging, [router], settings=settings, background=background,
                              permissions=permissions, title="Roumu efiling")
