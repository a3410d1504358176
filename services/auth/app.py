"""App factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from services.auth import admin_api, events, me_api, service
from services.auth.api import router
from services.auth.context import AccessKeys, AuthContext
from services.auth.models import messaging
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import load_data_keys
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "auth"

SUBSCRIPTIONS = (
    Subscription("tenants", events.TENANT_CREATED, service.on_tenant_created),
    Subscription("tenant-settings", events.TENANT_SETTINGS_CHANGED, service.on_tenant_settings_changed),
    Subscription("users", events.USER_CREATED, service.on_user_created),
    Subscription("users-updated", events.USER_UPDATED, service.on_user_updated),
    Subscription("users-disabled", events.USER_DISABLED, service.on_user_disabled),
    Subscription("users-deleted", events.USER_DELETED, service.on_user_deleted),
)


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               passwords: Passwords | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    """`clock` and `passwords` are for tests (a FrozenClock; a hashing cost of their choice)."""

    def startup(rt: Runtime) -> None:
        rt.extras["auth"] = AuthContext(
            clock=clock or SYSTEM_CLOCK,
            passwords=passwords or Passwords(),
            data_keys=load_data_keys(rt.settings.keys_dir),
            keys=AccessKeys(rt.settings.keys_dir),
            verifier=rt.verifier,
            settings=auth_settings or AuthSettings(),
        )

    return create_service_app(NAME, messaging, [router, me_api.router, admin_api.router],
                              subscriptions=SUBSCRIPTIONS, settings=settings, background=background,
                              title="Roumu auth", on_startup=startup)
