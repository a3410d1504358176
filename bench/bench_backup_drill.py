"""The monthly restore drill at size (issue #24 item 4): `ops.backup drill` — decrypt and check the
newest generation, restore every database into scratch, check rows/alembic/integrity/files, re-purge
tombstoned tenants, start the whole stack on the restored data and log in through the gateway — with
1, 100 and 1,000 tenants' worth of data, on SQLite as `make run` (the suite's drill test measures
PostgreSQL too, at demo size).

How the data is made, and what it is not:

* one **template tenant** (the demo tenant of `ops.seed`) is filled through the services' own use
  cases, in process: 3 事業所 and 8 users in accounts (with their grants and events), 150 insured
  persons by koyo_hoken's CSV import (every My Number sealed with AES-GCM, one outbox event each, the
  事業所 in koyo_hoken's read model), and every event of those written into audit_log's hash chains
  by its own recorder;
* the other tenants are **copies** of the template's rows, table by table in every service
  database: each id (every UUID in any column, JSON included) replaced by a fresh one per copy, the
  tenant code by a new code. The copies are rows of the right size and shape, not readable data:
  their sealed My Numbers do not open (the seal is bound to the original row) and their audit chains
  do not verify (the hash covers the original ids) — the drill checks neither, it checks counts,
  integrity, files and a login;
* the file store gets 3 random objects of 40 KiB per tenant (incompressible, like sealed uploads).

Each size: backup (`ops.backup run`: dump, copy, encrypt, verify, copy to the secondary), then the
drill; RTO is the drill's own measure (start to a successful login through the gateway), RPO the
backup's age when the drill ran (here the time between the two: in production the time since 23:00).

    python -m bench.bench_backup_drill [--sizes 1,100,1000]

prints the figures and writes its section of docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import re
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, func, insert, select

from bench.common import OUT, markers, write_section
from ops.backup.archive import BackupKeys
from ops.backup.drill import run_drill
from ops.backup.job import backed_up_services, run_backup
from ops.backup.settings import BackupSettings, MonitorSettings
from ops.migrate import migrate
from ops.seed import DEMO_TENANT, seed_demo, seed_monitor
from services.accounts import repository as accounts_repo
from services.accounts import service as accounts
from services.accounts.schemas import JigyoshoIn, UserCreate
from services.audit_log.app import NAME as AUDIT
from services.audit_log.models import messaging as audit_messaging
from services.audit_log.service import Recorder
from services.koyo_hoken import csv_io
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import jigyosho_directory
from services.koyo_hoken.rules.numbers import my_number_check_digit
from services.koyo_hoken.settings import KoyoHokenSettings
from shared.clock import SYSTEM_CLOCK
from shared.crypto import load_data_keys
from shared.db import Database
from shared.events import Actor, EventEnvelope
from shared.keys import ensure_keys
from shared.permissions import KOYO_HOKEN, Access
from shared.purge import TenantPurge
from shared.settings import CommonSettings

NAME = "bench_backup_drill"
BEGIN, END = markers(NAME)
ADMIN_PASSWORD = "bench-drill-admin-パスワード-1"
MONITOR_PASSWORD = "bench-drill-kanshi-パスワード-2"
PERSONS, USERS, JIGYOSHO, FILES, FILE_BYTES = 150, 8, 3, 3, 40 * 1024
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ACTOR = Actor(kind="system", id="bench")
INFRA = {"outbox", "inbox", "alembic_version"}


def settings_for(var: Path) -> CommonSettings:
    return CommonSettings(var_dir=var, keys_dir=var / "keys", log_level="WARNING",
                          database_url_template=f"sqlite:///{var.as_posix()}/db/{{service}}.db")


def persons_csv(jigyosho: list[str]) -> str:
    lines = ["action,jigyosho_id,family_name,given_name,family_name_kana,given_name_kana,birth_date,hire_date,"
             "weekly_hours,gender,employment_type,wage_payment,monthly_wage,job_type,hihokensha_bango,my_number"]
    for i in range(PERSONS):
        first11 = f"{20_000_000_000 + i:011d}"
        lines.append(f"hire,{jigyosho[i % len(jigyosho)]},山田,太郎{i},やまだ,ﾀﾛｳ,1985-0{1 + i % 9}-1{i % 9},"
                     f"2026-04-01,{20 + i % 20},{'male' if i % 2 else 'female'},part_time,hourly,{150000 + i},販売,"
                     f"5000-{i:06d}-{i % 10},{first11}{my_number_check_digit(first11)}")
    return "\n".join(lines) + "\n"


def fill_template(common: CommonSettings) -> str:
    """The demo tenant, filled through the use cases; answers its id."""
    acc = Database(common.database_url("accounts"))
    koyo = Database(common.database_url("koyo_hoken"))
    audit = Database(common.database_url(AUDIT))
    try:
        with acc.transaction() as s:
            tenant = accounts_repo.tenant_by_code(s, DEMO_TENANT)
            assert tenant is not None
            tid = tenant.id
            jigyosho = [accounts.create_jigyosho(s, tid, JigyoshoIn(
                name=f"株式会社見本{j}", name_kana="カブシキガイシャミホン", address="東京都千代田区千代田1-1"),
                ACTOR).id for j in range(JIGYOSHO)]
            for u in range(USERS):
                accounts.create_user(s, tid, UserCreate(login_id=f"staff{u}", display_name=f"担当者{u}"), ACTOR)
        with koyo.transaction() as s:
            for j in jigyosho:
                jigyosho_directory.apply(s, tid, j, "roumu.accounts.jigyosho.created", datetime.now(UTC),
                                         {"name": "見本", "status": "active"})
            ctx = KoyoContext(SYSTEM_CLOCK, load_data_keys(common.keys_dir), KoyoHokenSettings())
            access = Access(tid, "bench", "service", KOYO_HOKEN, "write", None)
            _, imported, errors, _ = csv_io.run_import(s, ctx, access, persons_csv(jigyosho), "all_or_nothing",
                                                       ACTOR)
            assert imported == PERSONS and not errors, errors[:3]
        # audit_log's own recorder over the events the use cases wrote (what its consumer would do).
        recorder = Recorder(SYSTEM_CLOCK, TenantPurge(AUDIT, audit_messaging))
        with audit.transaction() as s:
            events = [EventEnvelope.model_validate(json.loads(e)) for e in template_events(common, tid)]
            recorder.record_batch(s, events)
        return tid
    finally:
        for db in (acc, koyo, audit):
            db.dispose()


def _swap(value: Any, ids: dict[str, str], code: tuple[str, str]) -> Any:
    if isinstance(value, str):
        return UUID.sub(lambda m: ids.setdefault(m.group(0), str(uuid.uuid4())), value)
    if isinstance(value, dict | list):
        return json.loads(_swap(json.dumps(value, ensure_ascii=False), ids, code))
    return value


@dataclass
class Template:
    rows: dict[str, dict[str, list[dict[str, Any]]]]  # service → table → rows
    events: list[str]  # the template's events (JSON), replayed through audit_log's recorder per copy


def template_events(common: CommonSettings, tid: str) -> list[str]:
    out: list[str] = []
    for service in ("accounts", "koyo_hoken"):
        engine = create_engine(common.database_url(service))
        table = Table(audit_messaging.outbox.name, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            for (p,) in conn.execute(select(table.c.payload).order_by(table.c.seq)):
                doc = json.loads(p) if isinstance(p, str) else p
                if doc.get("tenant_id") == tid:
                    out.append(json.dumps(doc, ensure_ascii=False))
        engine.dispose()
    return out


def read_template(common: CommonSettings, tid: str) -> Template:
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for service in backed_up_services():
        if service == AUDIT:  # its chains are made by its recorder, per copy (add_copies)
            continue
        engine = create_engine(common.database_url(service))
        md = MetaData()
        md.reflect(engine)
        rows[service] = {}
        with engine.connect() as conn:
            for t in md.sorted_tables:
                if t.name in INFRA or "tenant_id" not in t.c:
                    continue
                got = [dict(r) for r in conn.execute(select(t).where(t.c.tenant_id == tid)).mappings()]
                if t.name == "tenants" and not got:
                    continue
                rows[service][t.name] = got
            if "tenants" in md.tables and "tenant_id" not in md.tables["tenants"].c:
                got = [dict(r) for r in conn.execute(select(md.tables["tenants"]).where(
                    md.tables["tenants"].c.id == tid)).mappings()]
                rows[service]["tenants"] = got
        engine.dispose()
    return Template(rows, template_events(common, tid))


def add_copies(common: CommonSettings, template: Template, first: int, count: int) -> None:
    """Copies number first..first+count-1 of the template, every service, in batches."""
    mappings: list[tuple[dict[str, str], tuple[str, str]]] = [
        ({}, (DEMO_TENANT, f"bench{n:05d}")) for n in range(first, first + count)]
    for service, tables in template.rows.items():
        engine = create_engine(common.database_url(service))
        md = MetaData()
        md.reflect(engine)
        with engine.begin() as conn:
            for name, rows in tables.items():
                if not rows:
                    continue
                table = md.tables[name]
                pk = list(table.primary_key.columns)
                # A row number the database assigns (audit_log's seq): left to it.
                drop = pk[0].name if len(pk) == 1 and pk[0].type.python_type is int else None
                out = []
                for ids, code in mappings:
                    for r in rows:
                        new = {k: _swap(v, ids, code) for k, v in r.items() if k != drop}
                        for c in ("code", "tenant_code"):
                            if new.get(c) == code[0]:
                                new[c] = code[1]
                        out.append(new)
                for i in range(0, len(out), 5000):
                    conn.execute(insert(table), out[i:i + 5000])
        engine.dispose()
    # audit_log: the copy's events (same ids as its rows) through the recorder: real chains.
    audit = Database(common.database_url(AUDIT))
    recorder = Recorder(SYSTEM_CLOCK, TenantPurge(AUDIT, audit_messaging))
    try:
        for ids, code in mappings:
            events = [EventEnvelope.model_validate(json.loads(_swap(e, ids, code))) for e in template.events]
            with audit.transaction() as s:
                recorder.record_batch(s, events)
    finally:
        audit.dispose()


def add_files(store: Path, tenants: Iterable[str]) -> None:
    for tid in tenants:
        folder = store / "objects" / tid[:2] / tid
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(FILES):
            (folder / f"{f}.sealed").write_bytes(os.urandom(FILE_BYTES))


def totals(common: CommonSettings) -> tuple[int, int]:
    rows, size = 0, 0
    for service in backed_up_services():
        url = common.database_url(service)
        engine = create_engine(url)
        md = MetaData()
        md.reflect(engine)
        with engine.connect() as conn:
            rows += sum(int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in md.sorted_tables)
        engine.dispose()
        size += Path(url.removeprefix("sqlite:///")).stat().st_size
    return rows, size


@dataclass
class Result:
    tenants: int
    rows: int
    db_bytes: int
    file_bytes: int
    archive_bytes: int
    backup_s: float
    rto_s: float | None
    rpo_s: float
    phases: dict[str, float]
    ok: bool
    problems: list[str]


def run(sizes: list[int]) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="roumu-bench-drill-") as tmp:
        root = Path(tmp)
        var = root / "var"
        common = settings_for(var)
        ensure_keys(common.keys_dir)
        migrate(settings=common)
        seed_demo(common, ADMIN_PASSWORD)
        seed_monitor(common, MONITOR_PASSWORD)
        tid = fill_template(common)
        template = read_template(common, tid)
        store = var / "files"
        add_files(store, [tid])
        key = f"bench:{base64.b64encode(secrets.token_bytes(32)).decode()}"
        backup = BackupSettings(key=key, primary_dir=root / "backups" / "primary",
                                secondary_dir=root / "backups" / "secondary", keep_daily=2)
        monitor = MonitorSettings(password=MONITOR_PASSWORD)
        keys = BackupKeys.parse(key)
        have = 1
        for size in sizes:
            if size > have:
                add_copies(common, template, have, size - have)
                add_files(store, [f"bench{n:05d}-{uuid.uuid4()}" for n in range(have, size)])
                have = size
            rows, db_bytes = totals(common)
            file_bytes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
            r = run_backup(common, backup, keys=keys, publish=False, alert=False)
            assert r.ok, r.error
            out = io.StringIO()
            report = run_drill(common, backup, monitor, keys=keys, out=out, alert=False)
            print(out.getvalue())
            results.append(Result(size, rows, db_bytes, file_bytes, r.size, r.duration_s, report.rto_seconds,
                                  report.rpo_seconds, dict(report.phases), report.ok, list(report.problems)))
    return results


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}"


def render(results: list[Result], cpus: int, load: float) -> str:
    phases = list(results[-1].phases)
    lines = [
        f"{BEGIN}",
        "## Restore drill at size: 1, 100, 1,000 tenants (bench/bench_backup_drill.py)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite (as `make run`), {cpus} vCPUs shared with other "
        f"jobs (load average {load:.1f} at the start). Per tenant: {JIGYOSHO} 事業所, {USERS + 2} users, "
        f"{PERSONS} insured persons with sealed My Numbers, their audit entries, {FILES} objects of "
        f"{FILE_BYTES // 1024} KiB; tenant 1 made through the use cases, the others copies of its rows "
        "with fresh ids (the module's docstring says what the copies are not). "
        "`python -m bench.bench_backup_drill`.",
        "",
        "| tenants | rows | databases MiB | files MiB | archive MiB | backup s | drill RTO s | RPO s | drill ok |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        rto = f"{r.rto_s:.1f}" if r.rto_s is not None else "—"
        ok = "yes" if r.ok else "NO: " + "; ".join(r.problems)
        lines.append(f"| {r.tenants:,} | {r.rows:,} | {mib(r.db_bytes)} | {mib(r.file_bytes)} | {mib(r.archive_bytes)} "
                     f"| {r.backup_s:.1f} | {rto} | {r.rpo_s:.0f} | {ok} |")
    lines += ["", "Drill phases (s):", "", "| tenants | " + " | ".join(phases) + " |",
              "| ---: | " + " | ".join("---:" for _ in phases) + " |"]
    for r in results:
        lines.append(f"| {r.tenants:,} | " + " | ".join(f"{r.phases.get(p, 0):.1f}" for p in phases) + " |")
    last = results[-1]
    fixed = ("start the stack", "login through the gateway")

    def data_s(r: Result) -> float:  # the phases that grow with the data
        return sum(v for k, v in r.phases.items() if k not in fixed)
    if last.rto_s and len(results) >= 2 and last.tenants > results[-2].tenants:
        prev = results[-2]
        grown = data_s(last) / max(data_s(prev), 0.01)
        square = last.tenants * math.sqrt(14_400 / max(data_s(last), 0.01))
        linear = last.tenants * 14_400 / max(data_s(last), 0.01)
        steps = ", ".join(f"{data_s(r):.1f} s at {r.tenants:,}" for r in results)
        lines += ["", f"Scaling: the phases that grow with the data (decrypt, restore, checks, re-purge) took {steps} "
                  f"tenants — ×{grown:.0f} for ×{last.tenants / prev.tenants:.0f} the data in the last step, "
                  f"{'more than' if grown > last.tenants / prev.tenants else 'no more than'} linear here (the "
                  f"machine's load was {load:.1f}; one run per size); starting the stack and "
                  f"logging in stay near {last.phases.get(fixed[0], 0) + last.phases.get(fixed[1], 0):.0f} s "
                  f"whatever the size. RTO {last.rto_s:.0f} s at {last.tenants:,} tenants against the sheet's 4 h "
                  f"(14,400 s). If the data phases grew with the square of the size from here, 4 h would be reached "
                  f"near {square:,.0f} tenants of this size; if linearly, near {linear:,.0f}."]
    lines.append(END)
    return "\n".join(lines)


def main(sizes: str | None = None, write: bool = True) -> None:
    """bench/run.py calls this with no arguments: ROUMU_BENCH_DRILL_SIZES or 1,100,1000."""
    sizes = sizes or os.environ.get("ROUMU_BENCH_DRILL_SIZES", "1,100,1000")
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    results = run([int(x) for x in sizes.split(",")])
    section = render(results, os.cpu_count() or 0, load)
    print(section)
    print(f"(bench took {time.monotonic() - t0:.0f} s)")
    if write:
        write_section(NAME, section, OUT)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=None, help="tenants per step, e.g. 1,100,1000")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    main(args.sizes, not args.no_write)
