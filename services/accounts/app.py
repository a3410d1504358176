"""App factory of the accounts service: `uvicorn --factory services.accounts.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from services.accounts.api import router
from services.accounts.models import messaging
from shared.service_app import create_service_app
from shared.settings import CommonSettings

NAME = "accounts"


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    return create_service_app(NAME, messaging, [router], settings=settings, background=background,
                              title="Roumu accounts")
