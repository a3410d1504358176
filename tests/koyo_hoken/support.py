"""Helpers of the koyo_hoken API tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.clock import FrozenClock
from shared.permissions import MENUS
from tests.support.jigyosho import JigyoshoSeeder

BASE = "/api/v1/koyo-hoken"
MY_NUMBER = "123456789018"  # a valid check digit (総務省令第85号 5条)
ALL_WRITE = {m: "write" for m in MENUS if m != "my_number_unmasked"}


def frozen(y: int, m: int, d: int) -> FrozenClock:
    return FrozenClock(datetime(y, m, d, 3, 0, tzinfo=UTC))  # 12:00 JST


# The 事業所 every tenant of these tests has in the accounts master (tenant() applies their created
# events to koyo_hoken's read model); ids outside them are unknown 事業所.
JIGYOSHO = ("js-1", "js-2", "js-a", "js-b")
SEEDER: list[JigyoshoSeeder] = []  # set by tests/koyo_hoken/conftest.py for the session


def tenant(jigyosho: tuple[str, ...] = JIGYOSHO) -> str:
    """A fresh tenant whose 事業所 `jigyosho` koyo_hoken knows (as if accounts had published them)."""
    tid = str(uuid.uuid4())
    if jigyosho:
        SEEDER[0].open(tid, *jigyosho, services=("koyo_hoken",))
    return tid


def person(jigyosho_id: str = "js-1", **over: Any) -> dict[str, Any]:
    body = {"jigyosho_id": jigyosho_id, "family_name": "山田", "given_name": "太郎",
            "family_name_kana": "ヤマダ", "given_name_kana": "タロウ", "birth_date": "1990-04-01",
            "hire_date": "2025-04-15", "weekly_hours": "40", "gender": "male", "employment_type": "regular",
            "wage_payment": "monthly", "monthly_wage": 300000, "job_type": "事務"}
    return {**body, **over}
