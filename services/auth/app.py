"""App factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session

from services.auth import admin_api, me_api, operators_api, service
from services.auth.api import router
from services.auth.body_limit import SmallBodies
from services.auth.context import AccessKeys, AuthContext
from services.auth.models import messaging
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import load_data_keys
from shared.events import EventEnvelope
from shared.purge import TenantPurge
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "auth"

PURGE = TenantPurge(NAME, messaging)


def on_accounts_event(session: Session, event: EventEnvelope) -> None:
    """Every accounts event through one durable consumer, in the order accounts published them:
    a user can never be applied before its tenant, nor after the tenant's purge."""
    handler = service.ACCOUNTS_HANDLERS.get(event.type)
    if handler is not None:
        handler(session, event)
    PURGE.handle(session, event)


SUBSCRIPTIONS = (Subscription("accounts", "roumu.accounts.>", on_accounts_event),)


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

    app = create_service_app(NAME, messaging, [router, me_api.router, admin_api.router, operators_api.router],
                             subscriptions=SUBSCRIPTIONS, settings=settings, background=background,
                             title="Roumu auth", on_startup=startup, accounts_feed=False)
    app.add_middleware(SmallBodies)
    return app
