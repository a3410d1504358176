"""A 年度更新 run for 10,000 委託事業主 on PostgreSQL, persisted with ledger rows and events.

Measured in one run, on a fresh database migrated from empty:

* pure computation: rules.nendo_koshin.renew over every member (the run's own `compute_all`,
  inputs already in memory) — goal ≤ 2 s;
* end to end: `renewal.run` as the API calls it — read members, wages and 特別加入 spans, compute,
  write results, ledger entries and one outbox event per member in chunked transactions — goal
  ≤ 60 s;
* baseline: the same number of ledger rows written with the same bulk insert and nothing else
  (the database's floor for the run's writes);
* peak memory: the process's peak RSS (ru_maxrss), before and after the run.

ROUMU_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test) is an admin
URL; a database `roumu_bench_nendo_<random>` is created and dropped. BENCH_MEMBERS (default 10000).
Run alone: `python -m bench.bench_nendo_koshin`."""

from __future__ import annotations

import os
import resource
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from bench.common import OUT, markers, write_section
from services.jimukumiai import renewal
from services.jimukumiai.models import Base, LedgerEntry, Renewal, messaging
from shared.db import Database
from shared.events import Actor
from shared.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = markers("bench_nendo_koshin")
GOAL_END_TO_END = 60.0
GOAL_PURE = 2.0
FISCAL_YEAR = 2025
CODES = ("94", "98", "41", "37", "54", "71", "96", "99")
KUBUN = ("ippan", "ippan", "ippan", "kensetsu", "ippan", "ippan", "norin_shuzo", "ippan")


@dataclass(frozen=True)
class Figures:
    members: int
    seed_s: float
    pure_s: float
    run_s: float
    baseline_s: float
    renewals: int
    ledger_rows: int
    events: int
    skipped: int
    rss_before_mib: float
    rss_peak_mib: float
    load: tuple[float, float]  # 1-minute load average before and after


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def seed(db: Database, tenant: str, n: int) -> None:
    now = datetime.now(UTC)
    members, wages, spans = [], [], []
    for i in range(n):
        mid = str(uuid.uuid4())
        k = i % len(CODES)
        only_rousai = i % 50 == 0
        members.append({"id": mid, "tenant_id": tenant, "jigyosho_id": f"js-{i % 200}", "name": f"事業主{i:05d}",
                        "labour_insurance_number": f"13101{i:06d}000", "entrusted_from": date(2015, 4, 1),
                        "status": "active", "created_at": now, "version": 1, "regular_workers": 1 + i % 40,
                        "main_business": "other", "rousai_code": CODES[k],
                        "koyo_kubun": None if only_rousai else KUBUN[k], "entrusted_scope": ["premiums"]})
        base = 3_000_000 + (i * 7_919) % 90_000_000
        wages.append({"id": str(uuid.uuid4()), "tenant_id": tenant, "member_id": mid, "fiscal_year": FISCAL_YEAR - 1,
                      "rousai_wages": base + 678, "koyo_wages": base - (i % 9) * 100_000 + 500,
                      "paid_estimate": int(base * 0.017), "estimated_rousai_wages": base * (3 if i % 97 == 0 else 1),
                      "estimated_koyo_wages": None, "excess_use": ("premium", "refund", "both")[i % 3],
                      "installments_requested": i % 10 != 0, "source": "csv", "updated_at": now, "version": 1})
        if i % 5 == 0:
            spans.append({"id": str(uuid.uuid4()), "tenant_id": tenant, "member_id": mid, "person_name": "代表者",
                          "role": "owner", "daily_amount": 10_000, "joined_on": date(2023, 4, 1),
                          "left_on": date(2025, 10, 1) if i % 15 == 0 else None, "created_at": now, "version": 1})
    tables = Base.metadata.tables
    with db.transaction() as session:
        session.execute(insert(tables["members"]), members)
        session.execute(insert(tables["wage_reports"]), wages)
        session.execute(insert(tables["special_enrolments"]), spans)


def run(n: int = 10_000) -> Figures:
    admin = os.environ.get("ROUMU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"roumu_bench_nendo_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    load_before = os.getloadavg()[0]
    try:
        upgrade(ROOT / "services" / "jimukumiai" / "migrations", url)
        db = Database(url)
        tenant = str(uuid.uuid4())
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        seed(db, tenant, n)
        seed_s = time.perf_counter() - t0

        # Pure computation: the run's own compute step over inputs already read.
        with db.sessions() as session:
            prepared = renewal.prepare(session, tenant, FISCAL_YEAR,
                                       renewal.members_for_year(session, tenant, FISCAL_YEAR))
        t0 = time.perf_counter()
        results = list(renewal.compute_all(prepared, FISCAL_YEAR, True))
        pure_s = time.perf_counter() - t0
        assert sum(1 for _, r, _ in results if r is not None) == n, "every member renews"
        del prepared, results

        t0 = time.perf_counter()
        result = renewal.run(db.transaction, tenant, FISCAL_YEAR, Actor(kind="system", id="bench"),
                             date(2025, 6, 2), True)
        run_s = time.perf_counter() - t0
        rss_peak = _rss_mib()

        with db.sessions() as session:
            renewals = session.execute(select(func.count()).select_from(Renewal)).scalar_one()
            ledger_rows = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
            events = session.execute(select(func.count()).select_from(messaging.outbox)).scalar_one()

        # Baseline: the same number of ledger rows, same bulk insert, nothing computed.
        now = datetime.now(UTC)
        rows = [{"id": str(uuid.uuid4()), "tenant_id": "baseline", "member_id": "m", "fiscal_year": FISCAL_YEAR,
                 "kind": "estimate", "period": 1, "amount": 1, "due_on": date(2025, 7, 10),
                 "occurred_on": date(2025, 6, 2), "reverses_id": None, "renewal_id": None, "note": None,
                 "created_at": now, "actor_id": "bench"} for _ in range(ledger_rows)]
        t0 = time.perf_counter()
        for start in range(0, len(rows), renewal.CHUNK * 4):
            with db.transaction() as session:
                session.execute(insert(Base.metadata.tables["ledger_entries"]), rows[start:start + renewal.CHUNK * 4])
        baseline_s = time.perf_counter() - t0
        db.dispose()
        return Figures(n, seed_s, pure_s, run_s, baseline_s, renewals, ledger_rows, events, len(result.skipped),
                       rss_before, rss_peak, (load_before, os.getloadavg()[0]))
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def markdown(f: Figures) -> str:
    ok = "met" if f.run_s <= GOAL_END_TO_END and f.pure_s <= GOAL_PURE else "**missed**"
    return f"""{BEGIN}
## 年度更新 run for {f.members:,} members on PostgreSQL (bench/bench_nendo_koshin.py)

Goal: end to end ≤ {GOAL_END_TO_END:.0f} s, pure computation ≤ {GOAL_PURE:.0f} s, both measured in this run — {ok}.

| measure | figure |
| --- | --- |
| pure computation (`renew` for every member, inputs in memory) | {f.pure_s:.2f} s ({f.members / f.pure_s:,.0f}/s) |
| end to end (`renewal.run`: read, compute, write all) | {f.run_s:.2f} s ({f.members / f.run_s:,.0f}/s) |
| baseline: the same {f.ledger_rows:,} ledger rows bulk-inserted, nothing else | {f.baseline_s:.2f} s |
| rows written | {f.renewals:,} results, {f.ledger_rows:,} ledger entries, {f.events:,} events ({f.skipped} skipped) |
| peak RSS of the process: before seeding → after the run | {f.rss_before_mib:.0f} MiB → {f.rss_peak_mib:.0f} MiB |
| seeding (members, wages, 特別加入 spans; not part of the run) | {f.seed_s:.2f} s |

Load average (1 min) before / after on {os.cpu_count()} cores: {f.load[0]:.1f} / {f.load[1]:.1f} — the pure figure
scales with it (other work on the machine shares the CPU).

The run writes in chunks of {renewal.CHUNK:,} members, one transaction each; the rest of the end-to-end time over
the baseline is computing, serialising each result to JSON (the calculator's response shape) and the events.
{END}"""


def main() -> None:
    f = run(int(os.environ.get("BENCH_MEMBERS", "10000")))
    print(f"nendo_koshin: pure {f.pure_s:.2f} s, end to end {f.run_s:.2f} s, baseline {f.baseline_s:.2f} s, "
          f"rows {f.renewals}/{f.ledger_rows}/{f.events}, RSS {f.rss_before_mib:.0f}→{f.rss_peak_mib:.0f} MiB")
    write_section("bench_nendo_koshin", markdown(f))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
