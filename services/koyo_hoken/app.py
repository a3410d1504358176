"""App factory of the koyo_hoken service: `uvicorn --factory services.koyo_hoken.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from services.koyo_hoken.api import router
from services.koyo_hoken.models import messaging, permissions
from shared.service_app import create_service_app
from shared.settings import CommonSettings

NAME = "koyo_hoken"


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    return create_service_app(NAME, messaging, [router], settings=settings, background=background,
                              permissions=permissions, title="Roumu koyo_hoken")
