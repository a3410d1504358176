"""App factory of the audit-log service: one durable consumer of every roumu event."""

from __future__ import annotations

from fastapi import FastAPI

from services.audit_log import service
from services.audit_log.api import router
from services.audit_log.models import messaging
from shared.service_app import Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "audit_log"
SUBSCRIPTIONS = (Subscription("all", "roumu.>", service.record),)


def create_app(settings: CommonSettings | None = None, background: bool = True) -> FastAPI:
    return create_service_app(NAME, messaging, [router], subscriptions=SUBSCRIPTIONS, settings=settings,
                              background=background, title="Roumu audit log")
