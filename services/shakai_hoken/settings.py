"""Settings of the shakai_hoken service (docs/configuration.md): the [要確認] rule choices of
DOMAIN-SHAHO.md, office-independent, each defaulting to the notes' stated default."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.shakai_hoken.rules.settings import Averaging, ShahoRuleSettings


class ShakaiHokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_SHAKAI_HOKEN_", extra="ignore")

    shift_period_deadlines: bool = True
    shift_fixed_date_deadlines: bool = True
    bonus_truncate_monthly_sum: bool = True
    averaging: Averaging = Averaging.FLOOR
    kenpo_bottom_exception: int = Field(default=53_000, ge=0)
    combined_health_rate: bool = True

    def rules(self) -> ShahoRuleSettings:
        return ShahoRuleSettings(
            shift_period_deadlines=self.shift_period_deadlines, shift_fixed_dates=self.shift_fixed_date_deadlines,
            bonus_truncate_monthly_sum=self.bonus_truncate_monthly_sum, averaging=self.averaging,
            kenpo_bottom_exception=self.kenpo_bottom_exception, combined_health_rate=self.combined_health_rate)
