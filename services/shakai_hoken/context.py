"""What the shakai_hoken use cases need besides the database: the clock and the rule settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.shakai_hoken.rules.settings import ShahoRuleSettings
from shared.clock import JST, Clock


@dataclass(frozen=True)
class ShahoContext:
    clock: Clock
    rules: ShahoRuleSettings

    def today(self) -> date:
        return self.clock.now().astimezone(JST).date()
