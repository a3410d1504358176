"""Settings of the koyo_hoken service (documented in docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KoyoHokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUMU_KOYO_HOKEN_", extra="ignore")

    # Move fixed calendar deadlines (資格取得届 翌月10日) to the next business day. Period deadlines
    # move by law; for fixed dates it is practice (DOMAIN.md appendix §6), hence a setting.
    shift_fixed_date_deadlines: bool = True
    # "Due soon" in the deadline view: due within this many days from today (inclusive).
    due_soon_days: int = Field(default=7, ge=0, le=90)
    # Largest CSV import accepted, in rows (a bigger file is refused before any row is read).
    import_max_rows: int = Field(default=50_000, ge=1)
    # The scheduled eligibility re-judgement (issue 25): how often the leader checks whether a rule
    # change date (2028-10-01) has come for a tenant not yet re-judged for it.
    rejudgement_check_seconds: float = Field(default=3600.0, ge=1.0)
