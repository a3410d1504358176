"""App factory of the shakai_hoken service: `uvicorn --factory services.shakai_hoken.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from services.shakai_hoken import service
from services.shakai_hoken.api import router
from services.shakai_hoken.context import ShahoContext
from services.shakai_hoken.models import jigyosho_directory, messaging, permissions
from services.shakai_hoken.settings import ShakaiHokenSettings
from shared.clock import SYSTEM_CLOCK, Clock
from shared.service_app import Runtime, Subscription, create_service_app
from shared.settings import CommonSettings

NAME = "shakai_hoken"

# koyo_hoken's person master: who exists, in which 事業所 (docs/architecture.md).
SUBSCRIPTIONS = (Subscription("koyo-hoken-persons", "roumu.koyo_hoken.insured_person.>",
                              service.on_koyo_person_event),)


def create_app(settings: CommonSettings | None = None, background: bool = True, *, clock: Clock | None = None,
               shaho_settings: ShakaiHokenSettings | None = None) -> FastAPI:
    """`clock` is for tests (a FrozenClock)."""

    def startup(rt: Runtime) -> None:
        rt.extras["shakai_hoken"] = ShahoContext(clock=clock or SYSTEM_CLOCK,
                                                 rules=(shaho_settings or ShakaiHokenSettings()).rules())

    return create_service_app(NAME, messaging, [router], subscriptions=SUBSCRIPTIONS, settings=settings,
                              background=background, permissions=permissions, title="Roumu shakai_hoken",
                              on_startup=startup, jigyosho_directory=jigyosho_directory)
