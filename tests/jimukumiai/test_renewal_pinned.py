"""A 年度更新 run of a small seeded association, pinned: the results, ledger rows and events it
writes are compared with tests/jimukumiai/data/renewal_run_pinned.json, recorded from the run before
the run's speed-ups of issue #22, so that making the run cheaper cannot change what it writes. Ids the
run draws at random (renewal, ledger entry, event, run ids) and the clock's times are replaced by
placeholders numbered in order of first appearance; everything else (amounts, dates, kinds, key order
of the stored JSON) must be as recorded. Set ROUMU_REPIN=1 to record the file again (only for a
change that means to alter what the run writes)."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from services.jimukumiai import renewal
from services.jimukumiai.models import Base
from shared.db import Database
from shared.events import Actor

PINNED = Path(__file__).parent / "data" / "renewal_run_pinned.json"
CODES = ("94", "98", "41", "37", "54", "71", "96", "99")
KUBUN = ("ippan", "ippan", "ippan", "kensetsu", "ippan", "ippan", "norin_shuzo", "ippan")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


def _seed(db: Database, tenant: str, n: int) -> None:
    """n members with the spread of the bench (bench/bench_nendo_koshin.py): 労災のみ, 特別加入 spans
    (some ending in the year), 充当 / 還付 / both, an estimate three times the wages, no 延納 wanted,
    a member with no wages (skipped) and one established in the year."""
    now = datetime(2025, 5, 1, tzinfo=UTC)
    members, wages, spans = [], [], []
    for i in range(n):
        mid = f"member-{i:03d}"
        k = i % len(CODES)
        members.append({"id": mid, "tenant_id": tenant, "jigyosho_id": f"js-{i % 3}", "name": f"事業主{i:03d}",
                        "labour_insurance_number": f"13101{i:06d}000",
                        "entrusted_from": date(2025, 6, 1) if i == 7 else date(2015, 4, 1),
                        "established_on": date(2025, 6, 1) if i == 7 else None,
                        "status": "active", "created_at": now, "version": 1, "regular_workers": 1 + i % 40,
                        "main_business": "other", "rousai_code": CODES[k],
                        "koyo_kubun": None if i % 10 == 0 else KUBUN[k], "entrusted_scope": ["premiums"]})
        if i == 11:
            continue  # no wages of the past year: skipped with its reason
        base = 3_000_000 + (i * 7_919_123) % 90_000_000
        wages.append({"id": f"wage-{i:03d}", "tenant_id": tenant, "member_id": mid, "fiscal_year": 2024,
                      "rousai_wages": 0 if i == 7 else base + 678,
                      "koyo_wages": 0 if i == 7 else base - (i % 9) * 100_000 + 500,
                      "paid_estimate": None if i in (7, 13) else int(base * (0.017 if i % 4 else 0.021)),
                      "estimated_rousai_wages": base * (3 if i % 9 == 0 else 1),
                      "estimated_koyo_wages": base - 1 if i == 7 else None,
                      "excess_use": ("premium", "refund", "both")[i % 3],
                      "installments_requested": i % 6 != 0, "source": "csv", "updated_at": now, "version": 1})
        if i % 5 == 0:
            spans.append({"id": f"span-{i:03d}", "tenant_id": tenant, "member_id": mid, "person_name": "代表者",
                          "role": "owner", "daily_amount": 10_000, "joined_on": date(2023, 4, 1),
                          "left_on": date(2025, 10, 1) if i % 15 == 0 else None, "created_at": now, "version": 1})
    tables = Base.metadata.tables
    with db.transaction() as session:
        session.execute(insert(tables["members"]), members)
        session.execute(insert(tables["wage_reports"]), wages)
        session.execute(insert(tables["special_enrolments"]), spans)
        # Member 13 has no 申告済概算 with its wages: the last run's 概算 stands in.
        session.execute(insert(tables["renewals"]), [{
            "id": "renewal-2024-013", "tenant_id": tenant, "member_id": "member-013", "run_id": "run-2024",
            "fiscal_year": 2024, "estimate_total": 123_456, "result": {}, "created_at": now}])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _written(db: Database, tenant: str) -> dict[str, Any]:
    with db.sessions() as session:
        renewals = [dict(r._mapping) for r in session.execute(text(
            "SELECT id, member_id, fiscal_year, estimate_total, result FROM renewals "
            "WHERE tenant_id = :t AND fiscal_year = 2025 ORDER BY member_id"), {"t": tenant})]
        ledger = [dict(r._mapping) for r in session.execute(text(
            "SELECT id, member_id, fiscal_year, kind, period, amount, due_on, occurred_on, reverses_id, renewal_id, "
            "note, actor_id FROM ledger_entries WHERE tenant_id = :t "
            "ORDER BY member_id, fiscal_year, kind, period"), {"t": tenant})]
        ids = {r["id"] for r in renewals}
        events = [_json(p) for (p,) in session.execute(text(
            "SELECT payload FROM outbox WHERE subject = 'roumu.jimukumiai.renewal.computed' ORDER BY seq"))]
        events = [e for e in events if e["subject"]["renewal_id"] in ids]
        run = session.execute(text("SELECT computed, already_renewed, skipped FROM renewal_runs "
                                   "WHERE tenant_id = :t"), {"t": tenant}).one()
    for r in renewals:
        r["result"] = _json(r["result"])
    for row in ledger:
        for k in ("due_on", "occurred_on"):
            row[k] = str(row[k]) if row[k] is not None else None
    return {"run": {"computed": run.computed, "already_renewed": run.already_renewed, "skipped": _json(run.skipped)},
            "renewals": renewals, "ledger": ledger, "events": events}


def _normalised(written: dict[str, Any], tenant: str) -> str:
    """The written rows as text (key order kept), the random ids and the clock's times numbered."""
    raw = json.dumps(written, ensure_ascii=False, indent=1, default=str).replace(tenant, "TENANT")
    names: dict[str, str] = {}
    raw = UUID.sub(lambda m: names.setdefault(m.group(0), f"ID-{len(names)}"), raw)
    return TIMESTAMP.sub("TIME", raw) + "\n"


def test_a_run_writes_what_it_wrote_before(settings):
    db = Database(settings.database_url("jimukumiai"))
    tenant = str(uuid.uuid4())
    try:
        _seed(db, tenant, 48)
        run = renewal.run(db.transaction, tenant, 2025, Actor(kind="system", id="pin"), date(2025, 6, 2), True,
                          chunk=20)
        assert run.computed == 47, run.skipped
        assert run.skipped == [{"member_id": "member-011", "reason": "no wages of the past year"}]
        got = _normalised(_written(db, tenant), tenant)
    finally:
        db.dispose()
    if os.environ.get("ROUMU_REPIN") == "1":
        PINNED.write_text(got, encoding="utf-8")
    assert got == PINNED.read_text(encoding="utf-8")
