"""Migration 0007 (one holder per 被保険者番号) on a database that already holds duplicates: they are
kept, the person registered first holds the claim, and a legacy 4-6 number is the same number as
its 4-6-1 form (docs/koyo_hoken.md "被保険者番号")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.db import make_engine
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "koyo_hoken" / "migrations"
INSERT = text(
    "INSERT INTO insured_persons (id, tenant_id, jigyosho_id, family_name, given_name, family_name_kana,"
    " given_name_kana, birth_date, hire_date, weekly_hours, status, created_at, version, renewal_clause, student,"
    " hihokensha_bango) VALUES (:id, :tenant, 'js-1', '山田', '太郎', 'ヤマダ', 'タロウ', '1990-04-01',"
    " '2025-04-01', 40, 'active', :at, 1, false, 'none', :number)")


def test_existing_duplicates_are_kept_and_the_first_holds_the_number(test_dbs):
    url = test_dbs.create(f"{test_dbs.prefix}_mig0007_{uuid.uuid4().hex[:6]}")
    upgrade(MIGRATIONS, url, "0006")
    tenant, other_tenant = str(uuid.uuid4()), str(uuid.uuid4())
    start = datetime(2025, 4, 1, tzinfo=UTC)
    people = [("later", tenant, "5201-000001-1", 2), ("first", tenant, "5201-000001", 1),
              ("third", tenant, "5201000001", 3), ("alone", tenant, "5202-000002-2", 1),
              ("elsewhere", other_tenant, "5201-000001-1", 5), ("none", tenant, None, 1)]
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name, tid, number, minutes in people:
                conn.execute(INSERT, {"id": name, "tenant": tid, "number": number,
                                      "at": start + timedelta(minutes=minutes)})
        upgrade(MIGRATIONS, url)
        with engine.connect() as conn:
            got = {r.id: (r.hihokensha_key, r.hihokensha_claim) for r in conn.execute(
                text("SELECT id, hihokensha_key, hihokensha_claim FROM insured_persons"))}
        assert got == {"first": ("5201000001", "5201000001"), "later": ("5201000001", None),
                       "third": ("5201000001", None), "alone": ("5202000002", "5202000002"),
                       "elsewhere": ("5201000001", "5201000001"), "none": (None, None)}
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the index holds from now on
            conn.execute(text("UPDATE insured_persons SET hihokensha_claim = '5201000001' WHERE id = 'later'"))
    finally:
        engine.dispose()
