"""A 年度更新 run for 10,000 (and, with BENCH_LARGE=1, 100,000) 委託事業主, persisted with ledger rows
and events, on PostgreSQL and SQLite.

Measured per size and database, each in a process of its own on a fresh database migrated from empty:

* end to end: `renewal.run` as the API calls it — read members, wages and 特別加入 spans, compute,
  write results, ledger entries and one outbox event per member in chunked transactions;
* baseline: the same number of ledger rows written with the same bulk insert and nothing else
  (the database's floor for the run's writes), same process, right after;
* peak memory: the process's peak RSS (ru_maxrss) after the run;
* pure computation: rules.nendo_koshin.renew over every member (the run's own `compute_all`,
  inputs already in memory).

It prints each size's ratio to its baseline and time(large) / time(small), the scaling the issue
(#22) is about. ROUMU_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
is an admin URL; a database `roumu_bench_nendo_<random>` is created and dropped. BENCH_MEMBERS
(default 10000; a comma-separated list runs several), BENCH_NENDO_DATABASES (default
postgres,sqlite). Run alone: `python -m bench.bench_nendo_koshin`."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
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
GOAL_SMALL = 2.0  # × baseline at 10,000 members
GOAL_LARGE = 3.0  # × baseline at 100,000
GOAL_SCALING = 11.0  # time(100k) / time(10k)
GOAL_RSS_MIB = 400
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
    database: str = "postgres"
    # This process's CPU seconds (all threads) in the run and in the baseline's inserts: what the
    # Python side costs, less moved than wall time by other work on a shared machine (on PostgreSQL
    # the server's own work is not in it).
    run_cpu_s: float = 0.0
    baseline_cpu_s: float = 0.0


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def seed(db: Database, tenant: str, n: int, chunk: int = 10_000) -> None:
    """n members with their wages and spans, written in chunks (so the seeding's own lists do not
    set the process's peak RSS, which the run is judged by)."""
    for start in range(0, n, chunk):
        _seed_chunk(db, tenant, range(start, min(n, start + chunk)))


def _seed_chunk(db: Database, tenant: str, indexes: range) -> None:
    now = datetime.now(UTC)
    members, wages, spans = [], [], []
    for i in indexes:
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


@contextmanager
def _database(kind: str) -> Iterator[str]:
    """A fresh, empty database of `kind` ("postgres" or "sqlite"), dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="roumu-bench-nendo-") as tmp:
            yield f"sqlite:///{tmp}/jimukumiai.db"
        return
    admin = os.environ.get("ROUMU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"roumu_bench_nendo_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def run(n: int = 10_000, kind: str = "postgres") -> Figures:
    """One size on one database, in this process (main() gives each its own process, so each peak
    RSS is its own). The run goes first after seeding, so its peak is not the pure step's."""
    load_before = os.getloadavg()[0]
    with _database(kind) as url:
        upgrade(ROOT / "services" / "jimukumiai" / "migrations", url)
        db = Database(url)
        tenant = str(uuid.uuid4())
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        seed(db, tenant, n)
        seed_s = time.perf_counter() - t0

        t0, c0 = time.perf_counter(), time.process_time()
        result = renewal.run(db.transaction, tenant, FISCAL_YEAR, Actor(kind="system", id="bench"),
                             date(2025, 6, 2), True)
        run_s, run_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        rss_peak = _rss_mib()

        with db.sessions() as session:
            renewals = session.execute(select(func.count()).select_from(Renewal)).scalar_one()
            ledger_rows = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
            events = session.execute(select(func.count()).select_from(messaging.outbox)).scalar_one()

        # Pure computation: the run's own compute step over inputs already read.
        with db.sessions() as session:
            prepared = renewal.prepare(session, tenant, FISCAL_YEAR,
                                       renewal.members_for_year(session, tenant, FISCAL_YEAR))
        t0 = time.perf_counter()
        computed = sum(1 for _, r, _ in renewal.compute_all(prepared, FISCAL_YEAR, True) if r is not None)
        pure_s = time.perf_counter() - t0
        assert computed == n, "every member renews"
        del prepared

        # Baseline: the same number of ledger rows, same bulk insert (chunks of 4,000), nothing computed;
        # only the inserts are timed (each chunk's rows are made before its clock starts).
        now = datetime.now(UTC)
        baseline_s = baseline_cpu_s = 0.0
        for start in range(0, ledger_rows, renewal.CHUNK * 4):
            rows = [{"id": str(uuid.uuid4()), "tenant_id": "baseline", "member_id": "m", "fiscal_year": FISCAL_YEAR,
                     "kind": "estimate", "period": 1, "amount": 1, "due_on": date(2025, 7, 10),
                     "occurred_on": date(2025, 6, 2), "reverses_id": None, "renewal_id": None, "note": None,
                     "created_at": now, "actor_id": "bench"}
                    for _ in range(min(renewal.CHUNK * 4, ledger_rows - start))]
            t0, c0 = time.perf_counter(), time.process_time()
            with db.transaction() as session:
                session.execute(insert(Base.metadata.tables["ledger_entries"]), rows)
            baseline_s += time.perf_counter() - t0
            baseline_cpu_s += time.process_time() - c0
        db.dispose()
        return Figures(n, seed_s, pure_s, run_s, baseline_s, renewals, ledger_rows, events, len(result.skipped),
                       rss_before, rss_peak, (load_before, os.getloadavg()[0]), kind, run_cpu_s, baseline_cpu_s)


def run_child(n: int, kind: str) -> Figures:
    """`run` in a process of its own (its peak RSS is the run's, not an earlier size's)."""
    out = subprocess.run([sys.executable, "-m", "bench.bench_nendo_koshin", "--one", str(n), kind], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"nendo_koshin {n} on {kind} failed:\n{out.stderr[-3000:]}")
    d = json.loads(out.stdout.strip().splitlines()[-1])
    d["load"] = tuple(d["load"])
    return Figures(**d)


def _row(f: Figures) -> str:
    return (f"| {f.members:,} | {f.run_s:.2f} | {f.baseline_s:.2f} | **{f.run_s / f.baseline_s:.2f}×** | "
            f"{f.pure_s:.2f} | {f.rss_before_mib:.0f} → {f.rss_peak_mib:.0f} | "
            f"{f.renewals:,} / {f.ledger_rows:,} / {f.events:,} ({f.skipped} skipped) | "
            f"{f.load[0]:.1f} / {f.load[1]:.1f} | {f.run_cpu_s:.2f} / {f.baseline_cpu_s:.2f} |")


def markdown(figures: list[Figures]) -> str:
    sections = []
    for kind in dict.fromkeys(f.database for f in figures):
        fs = sorted((f for f in figures if f.database == kind), key=lambda f: f.members)
        lines = [f"### {'PostgreSQL' if kind == 'postgres' else 'SQLite (WAL)'}", "",
                 "| members | end to end s | baseline s | × baseline | pure s | peak RSS MiB (before → after run) "
                 "| results / ledger rows / events | load before / after | CPU s run / baseline |",
                 "| ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
                 *(_row(f) for f in fs)]
        if len(fs) > 1:
            small, large = fs[0], fs[-1]
            scale = large.members / small.members
            lines += ["", f"* time({large.members:,}) / time({small.members:,}) = "
                          f"**{large.run_s / small.run_s:.1f}** for {scale:.0f}× the members (goal ≤ "
                          f"{GOAL_SCALING:.0f}); baseline {large.baseline_s / small.baseline_s:.1f}."]
        sections.append("\n".join(lines) + "\n")
    return f"""{BEGIN}
## 年度更新 run, scaling with the members (bench/bench_nendo_koshin.py)

`renewal.run` as the API calls it — read the members, wages and 特別加入 spans, compute, write results, ledger
entries and one outbox event per member in chunks of {renewal.CHUNK:,}, one transaction each — against a
baseline measured in the same process right after: the same number of ledger rows bulk-inserted the same
way (executemany, chunks of {renewal.CHUNK * 4:,}), nothing computed. Each size on each database runs in a
process of its own on a fresh database (peak RSS = the process's ru_maxrss after the run; seeding in chunks
of 10,000). Pure = `compute_all` over inputs in memory. CPU s: the bench process's CPU time in the run and in
the baseline's inserts (on PostgreSQL the server's work is outside it). 100,000 members run with `BENCH_LARGE=1`.
Goals (issue #22): 10,000 ≤ {GOAL_SMALL:.0f}× baseline; 100,000 ≤ {GOAL_LARGE:.0f}× baseline, time(100k) /
time(10k) ≤ {GOAL_SCALING:.0f}, peak RSS ≤ {GOAL_RSS_MIB} MiB.

{chr(10).join(sections)}

The machine is shared (2 cores; other sessions' test suites ran beside it: see the load averages): read
the same-run ratios, not the seconds.
{END}"""


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(asdict(run(int(sys.argv[2]), sys.argv[3]))))
        return
    sizes = [int(x) for x in os.environ.get("BENCH_MEMBERS", "10000").split(",")]
    if os.environ.get("BENCH_LARGE") == "1" and 100_000 not in sizes:
        sizes.append(100_000)
    figures = []
    for kind in os.environ.get("BENCH_NENDO_DATABASES", "postgres,sqlite").split(","):
        for n in sizes:
            f = run_child(n, kind.strip())
            figures.append(f)
            print(f"nendo_koshin {kind} {n}: end to end {f.run_s:.2f} s, baseline {f.baseline_s:.2f} s "
                  f"({f.run_s / f.baseline_s:.2f}×), CPU {f.run_cpu_s:.2f} / {f.baseline_cpu_s:.2f} s, "
                  f"pure {f.pure_s:.2f} s, rows {f.renewals}/{f.ledger_rows}/"
                  f"{f.events}, RSS {f.rss_before_mib:.0f}→{f.rss_peak_mib:.0f} MiB, load {f.load[0]:.1f}",
                  flush=True)
    write_section("bench_nendo_koshin", markdown(figures))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
