"""App factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from services.auth import events, service
from services.auth.api import router
from services.auth.models import messaging
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings
from shared.tokens import TokenSigner

NAME = "auth"

SUBSCRIPTIONS = (
    Subscription("tenants", events.TENANT_CREATED, service.on_tenant_created),
    Subscription("users", events.USER_CREATED, service.on_user_created),
)


def _startup(rt: Runtime) -> None:
    rt.extras["signer"] = TokenSigner(rt.settings.keys_dir, "access")


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    return create_service_app(NAME, messaging, [router], subscriptions=SUBSCRIPTIONS, settings=settings,
                              background=background, title="Roumu auth", on_startup=_startup)
