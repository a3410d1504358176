"""App factory of the koyo_hoken service: `uvicorn --factory services.koyo_hoken.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from services.koyo_hoken import service, tenant_export
from services.koyo_hoken.api import router
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import jigyosho_directory, messaging, permissions
from services.koyo_hoken.settings import KoyoHokenSettings
from services.koyo_hoken.wages_api import router as wages_router
from shared.clock import SYSTEM_CLOCK, Clock
from shared.crypto import DataKeys, load_data_keys
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "koyo_hoken"

# The e-filing service's status events about filings (the Idempotency-Key is our procedure id).
SUBSCRIPTIONS = (Subscription("efiling-status", "roumu.efiling.>", service.on_efiling_event),)


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               data_keys: DataKeys | None = None, koyo_settings: KoyoHokenSettings | None = None) -> FastAPI:
    """`clock` and `data_keys` are for tests (a FrozenClock; keys to rotate)."""

    def startup(rt: Runtime) -> None:
        rt.extras["koyo"] = KoyoContext(clock=clock or SYSTEM_CLOCK,
                                        data_keys=data_keys or load_data_keys(rt.settings.keys_dir),
                                        settings=koyo_settings or KoyoHokenSettings())

    return create_service_app(NAME, messaging, [router, wages_router], subscriptions=SUBSCRIPTIONS, settings=settings,
                              background=background, permissions=permissions, title="Roumu koyo_hoken",
                              on_startup=startup, jigyosho_directory=jigyosho_directory,
                              tenant_export=tenant_export.my_numbers)
