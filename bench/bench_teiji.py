"""定時決定 run for 10,000 persons on PostgreSQL (issue #26 "Bench"), against a bulk insert of the same
result rows.

* end to end: `teiji_run.run` as POST /teiji-runs calls it — read the enrolments, their 標準報酬月額
  history and April–June pay, compute each person with rules.teiji, insert one result per person in
  chunks of 500, one transaction each;
* baseline: the same result rows deleted and inserted again the same way (Core executemany, same
  chunks), nothing read or computed, same process, right after.

Goal (issue #26): end to end ≤ 3× the baseline. ROUMU_BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) is an admin URL; a database
`roumu_bench_teiji_<random>` is created and dropped. BENCH_TEIJI_PERSONS (default 10000).
Run alone: `python -m bench.bench_teiji`."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, create_engine, delete, insert, select, text

from bench.common import write_section
from services.shakai_hoken import teiji_run
from services.shakai_hoken.models import Enrolment, PayMonthRow, PersonRef, StandardRemuneration, TeijiResultRow
from services.shakai_hoken.rules.settings import DEFAULT_SETTINGS
from shared.db import Database
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench_teiji"
GOAL = 3.0
NOW = datetime(2026, 7, 2, 3, 0, tzinfo=UTC)


def seed(db: Database, tenant: str, n: int) -> None:
    """n enrolments in 20 事業所, each with its 資格取得時決定 and April–June pay (every 7th a 16-day May)."""
    refs, enrol, grades, pays = [], [], [], []
    for i in range(n):
        eid, pid, jid = str(uuid.uuid4()), str(uuid.uuid4()), f"js-{i % 20}"
        refs.append({"tenant_id": tenant, "insured_person_id": pid, "jigyosho_id": jid, "hire_date": date(2020, 10, 1),
                     "status": "active", "updated_at": NOW})
        enrol.append({"id": eid, "tenant_id": tenant, "jigyosho_id": jid, "insured_person_id": pid,
                      "birth_date": date(1980, 5, 5), "acquired_on": date(2020, 10, 1), "lost_on": None,
                      "open_person": pid, "worker_type": "ordinary", "kenpo": True, "kounen": True,
                      "created_at": NOW, "updated_at": NOW, "version": 1})
        grades.append({"id": str(uuid.uuid4()), "tenant_id": tenant, "enrolment_id": eid,
                       "effective_from": date(2020, 10, 1), "reason": "shutoku", "remuneration": 260_000,
                       "kenpo_grade": 20, "kenpo_standard": 260_000, "kounen_grade": 17, "kounen_standard": 260_000,
                       "created_at": NOW})
        for m in (4, 5, 6):
            pays.append({"id": str(uuid.uuid4()), "tenant_id": tenant, "enrolment_id": eid,
                         "month": date(2026, m, 1), "pay": 200_000 + (i % 50) * 10_000,
                         "base_days": 16 if (m == 5 and i % 7 == 0) else 30, "retro_pay": 0,
                         "partial_first_month": False, "leave_pay": False, "updated_at": NOW})
    with db.transaction() as s:
        for model, rows in ((PersonRef, refs), (Enrolment, enrol), (StandardRemuneration, grades),
                            (PayMonthRow, pays)):
            s.execute(insert(cast(Table, model.__table__)), rows)


def measure(n: int) -> dict[str, Any]:
    admin = os.environ.get("ROUMU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"roumu_bench_teiji_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = f"{admin.rsplit('/', 1)[0]}/{name}"
        upgrade(ROOT / "services" / "shakai_hoken" / "migrations", url)
        db = Database(url)
        tenant = str(uuid.uuid4())
        seed(db, tenant, n)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        _, written = teiji_run.run(db.transaction, tenant, 2026, None, "bench", DEFAULT_SETTINGS, NOW)
        run_s = time.perf_counter() - t0
        table = cast(Table, TeijiResultRow.__table__)
        with db.sessions() as s:
            rows = [dict(r._mapping) for r in s.execute(select(table))]
        with db.transaction() as s:
            s.execute(delete(table))
        t0 = time.perf_counter()
        for i in range(0, len(rows), teiji_run.CHUNK):
            with db.transaction() as s:
                s.execute(insert(table), rows[i:i + teiji_run.CHUNK])
        base_s = time.perf_counter() - t0
        db.dispose()
        return {"persons": n, "written": written, "run_s": run_s, "baseline_s": base_s, "load": load}
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def main() -> None:
    n = int(os.environ.get("BENCH_TEIJI_PERSONS", "10000"))
    f = measure(n)
    ratio = f["run_s"] / f["baseline_s"]
    verdict = "meets" if ratio <= GOAL else "misses"
    print(f"teiji {n}: run {f['run_s']:.2f} s, baseline {f['baseline_s']:.2f} s, {ratio:.2f}× ({verdict} ≤ {GOAL}×)")
    write_section(NAME, "\n".join([
        "## 定時決定 run, 10,000 persons on PostgreSQL (bench/bench_teiji.py)",
        "",
        "`teiji_run.run` as POST /teiji-runs calls it (read enrolments, grade history and April–June pay,",
        "compute with rules.teiji, insert one result per person in chunks of 500) against the same result rows",
        "bulk-inserted the same way, nothing computed. Goal (issue #26): ≤ 3× the baseline.",
        "",
        "| persons | run | baseline | ratio | load (1 min) |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {n:,} | {f['run_s']:.2f} s | {f['baseline_s']:.2f} s | {ratio:.2f}× ({verdict}) | {f['load']:.1f} |",
    ]))


if __name__ == "__main__":
    main()
