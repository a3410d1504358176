"""App factory of the audit-log service: one durable consumer of every roumu event."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session

from services.audit_log import service
from services.audit_log.api import router
from services.audit_log.models import messaging, permissions
from shared.events import EventEnvelope
from shared.purge import TenantPurge
from shared.service_app import Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "audit_log"
# Grants and the tenant purge ride on the one consumer of roumu.>, in stream order: a purge then
# comes after every entry of the tenant recorded before it, and nothing recorded earlier survives.
_PURGE = TenantPurge(NAME, messaging)


def _all(session: Session, event: EventEnvelope) -> None:
    service.record(session, event)
    if event.type.startswith("roumu.accounts."):
        permissions.handle(session, event)
        _PURGE.handle(session, event)


SUBSCRIPTIONS = (Subscription("all", "roumu.>", _all),)


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    return create_service_app(NAME, messaging, [router], subscriptions=SUBSCRIPTIONS, settings=settings,
                              background=background, permissions=permissions, accounts_feed=False,
                              title="Roumu audit log")
