"""What the koyo_hoken use cases need besides the database: clock, data keys, settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.koyo_hoken.settings import KoyoHokenSettings
from shared.clock import JST, Clock
from shared.crypto import DataKeys


@dataclass(frozen=True)
class KoyoContext:
    clock: Clock
    data_keys: DataKeys
    settings: KoyoHokenSettings

    def today(self) -> date:
        """Today in Japan: deadlines are Japanese calendar dates."""
        return self.clock.now().astimezone(JST).date()
