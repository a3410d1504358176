"""App factory of the jimukumiai service: `uvicorn --factory services.jimukumiai.app:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from services.jimukumiai.api import router
from services.jimukumiai.calculator_api import router as calculator_router
from services.jimukumiai.models import messaging, permissions
from services.jimukumiai.renewal_api import router as renewal_router
from shared.clock import SYSTEM_CLOCK, Clock
from shared.service_app import Runtime, create_service_app
from shared.settings import CommonSettings

NAME = "jimukumiai"


def create_app(settings: CommonSettings | None = None, background: bool = True, clock: Clock | None = None) -> FastAPI:
    """`clock`: the time source of today's date (limits, deadlines, retention); tests pass a FrozenClock."""

    def startup(rt: Runtime) -> None:
        rt.extras["clock"] = clock or SYSTEM_CLOCK

    return create_service_app(NAME, messaging, [router, calculator_router, renewal_router], settings=settings,
                              background=background, permissions=permissions, title="Roumu jimukumiai",
                              on_startup=startup)
