"""Settings of the jimukumiai service only (ROUMU_JIMUKUMIAI_*); documented in docs/configuration.md."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class JimukumiaiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_JIMUKUMIAI_", extra="ignore")

    # 7/10 and the 50-day limit move to the next business day by law; the fixed 延納 dates
    # (10/31, 1/31, 11/14, 2/14, 9/6) and the 報奨金 application date (10/15) by practice only
    # (DOMAIN.md appendix §6). Off: those dates stay as the rule writes them.
    shift_fixed_deadlines: bool = True
    # How often the retention job deletes the lines of the statutory books whose period is over
    # (rules/retention.py); the first run is one interval after start. 0 = never (run elsewhere).
    retention_interval_seconds: float = 86_400.0
    # A 年度更新 run beats with every chunk of members it commits; one silent this long is taken to
    # have died (its process stopped) and the next run of the year closes it instead of answering 409.
    renewal_run_stale_seconds: float = 900.0


@lru_cache(maxsize=1)
def get_jimukumiai_settings() -> JimukumiaiSettings:
    return JimukumiaiSettings()
