"""CSV import of 10,000 insured persons (koyo_hoken), against a plain csv parse of the same file.

Measured in one run, on SQLite (WAL) as in `make run`:

* baseline: `csv.DictReader` over the file, every row touched (rows/s, peak Python memory);
* the import use case in process (`csv_io.run_import`: parse, validate every row with pydantic,
  normalise kana, seal each My Number with AES-GCM, insert the persons (one Core executemany) and
  one outbox event each, one transaction), all or nothing;
* the same file through the HTTP route (`POST /api/v1/koyo-hoken/insured-persons/import`, the
  app in process behind Starlette's TestClient, no network), which adds the request and the
  answer.

Peak memory is tracemalloc's peak of Python allocations during the step, taken in a second pass
(tracing slows the code, so the timed pass runs without it). Run alone:
`python -m bench.bench_koyo_import` prints the figures and writes its section of
docs/BENCHMARKS.md (between its own markers).

Issue 25 adds a payroll file: the same 10,000 hires as a payroll export would write them — CP932,
Japanese headers (`ja` mapping: 氏名 and フリガナ to split, dates as 1985/1/11, 性別 男/女, amounts
with ',', the 事業所 by its 事業所番号) — against a plain parse of that file (CP932 decode +
`csv.DictReader`), in process and over HTTP."""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.common import OUT, markers, write_section
from ops.migrate import migrate
from services.koyo_hoken import csv_io, intake
from services.koyo_hoken.app import create_app
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import jigyosho_directory
from services.koyo_hoken.rules.numbers import my_number_check_digit
from services.koyo_hoken.settings import KoyoHokenSettings
from shared.clock import SYSTEM_CLOCK
from shared.crypto import load_data_keys
from shared.db import Database
from shared.events import Actor
from shared.keys import ensure_keys
from shared.permissions import KOYO_HOKEN, Access
from shared.settings import CommonSettings
from shared.tokens import TokenSigner, service_token

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = markers("bench_koyo_import")
HEADER = ("action,jigyosho_id,family_name,given_name,family_name_kana,given_name_kana,birth_date,hire_date,"
          "weekly_hours,gender,employment_type,wage_payment,monthly_wage,job_type,hihokensha_bango,my_number")


PAYROLL_HEADER = ("従業員番号,氏名,フリガナ,生年月日,性別,資格取得日,週所定労働時間,事業所番号,雇用形態,賃金月額,職種,"
                  "被保険者番号,個人番号,部署")


def make_payroll_csv(rows: int) -> bytes:
    """The same hires as a payroll export: CP932, Japanese headers and values, CRLF."""
    lines = [PAYROLL_HEADER]
    for i in range(rows):
        first11 = f"{10_000_000_000 + i:011d}"
        my_number = first11 + str(my_number_check_digit(first11))
        number = f"{5000 + i // 1_000_000:04d}-{i % 1_000_000:06d}-{i % 10}"
        lines.append(f"E{i:06d},山田 太郎,ﾔﾏﾀﾞ ﾀﾛｳ,1985/{1 + i % 9}/1{i % 9},{'男' if i % 2 else '女'},2026/4/1,"
                     f"{20 + i % 20},1301-{i % 20:06d}-1,パート,\"{150000 + i:,}\",販売,{number},{my_number},営業部")
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def make_csv(rows: int) -> str:
    lines = [HEADER]
    for i in range(rows):
        first11 = f"{10_000_000_000 + i:011d}"
        my_number = first11 + str(my_number_check_digit(first11))
        number = f"{5000 + i // 1_000_000:04d}-{i % 1_000_000:06d}-{i % 10}"
        lines.append(f"hire,js-{i % 20},山田,太郎,やまだ,ﾀﾛｳ,1985-0{1 + i % 9}-1{i % 9},2026-04-01,{20 + i % 20},"
                     f"{'male' if i % 2 else 'female'},part_time,hourly,{150000 + i},販売,{number},{my_number}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    rows_per_s: float
    peak_mib: float
    cpu_seconds: float  # the process's CPU time (all threads): less swayed than wall time on a busy machine


def measure(name: str, rows: int, fn: Callable[[], Any], again: Callable[[], Any]) -> Step:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    tracemalloc.start()
    again()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Step(name, seconds, rows / seconds, peak / 1024 / 1024, cpu)


def run(rows: int = 10_000) -> tuple[list[Step], int, int, tuple[float, float]]:
    text = make_csv(rows)
    payroll = make_payroll_csv(rows)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="roumu-bench-koyo-") as tmp:
        var = Path(tmp)
        settings = CommonSettings(var_dir=var, keys_dir=var / "keys", log_level="WARNING",
                                  database_url_template=f"sqlite:///{var}/{{service}}.db")
        ensure_keys(settings.keys_dir)
        migrate(["koyo_hoken"], settings=settings)
        ctx = KoyoContext(SYSTEM_CLOCK, load_data_keys(settings.keys_dir), KoyoHokenSettings())
        db = Database(settings.database_url("koyo_hoken"))
        actor = Actor(kind="system", id="bench")

        def parse_only() -> None:
            n = 0
            for row in csv.DictReader(io.StringIO(text)):
                n += len(row)
            assert n

        # Fresh tenants (the numbers are unique per tenant), each with the 20 事業所 of the file in its
        # 事業所 master read model, as accounts would have published them; made before any timing.
        tenants = [str(uuid.uuid4()) for _ in range(8)]
        with db.transaction() as session:
            for tid in tenants:
                for j in range(20):
                    jigyosho_directory.apply(session, tid, f"js-{j}", "roumu.accounts.jigyosho.created",
                                             datetime.now(UTC),
                                             {"name": f"事業所{j}", "status": "active",
                                              "employment_insurance_office_number": f"1301-{j:06d}-1"})
        fresh = iter(tenants)

        def payroll_parse_only() -> None:
            n = 0
            for row in csv.DictReader(io.StringIO(payroll.decode("cp932"))):
                n += len(row)
            assert n

        def payroll_use_case() -> None:
            access = Access(next(fresh), "bench", "service", KOYO_HOKEN, "write", None)
            text_, encoding = intake.decode(payroll)
            assert encoding == "cp932"
            mapping = intake.builtin("ja", csv_io.IMPORT_COLUMNS)
            with db.transaction() as session:
                _, imported, errors, _ = csv_io.run_import(session, ctx, access, text_, "all_or_nothing", actor,
                                                           mapping)
            assert imported == rows and not errors, errors[:3]

        def use_case() -> None:
            access = Access(next(fresh), "bench", "service", KOYO_HOKEN, "write", None)
            with db.transaction() as session:
                _, imported, errors, _ = csv_io.run_import(session, ctx, access, text, "all_or_nothing", actor)
            assert imported == rows and not errors, errors[:3]

        app = create_app(settings, background=False, data_keys=ctx.data_keys)
        signer = TokenSigner(settings.keys_dir, "internal")

        def http() -> None:
            token = service_token(signer, "bench", "koyo_hoken", next(fresh))
            with TestClient(app) as client:
                r = client.post("/api/v1/koyo-hoken/insured-persons/import", content=text.encode(),
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
            assert r.status_code == 200 and r.json()["imported_persons"] == rows, r.text[:300]

        def payroll_http() -> None:
            token = service_token(signer, "bench", "koyo_hoken", next(fresh))
            with TestClient(app) as client:
                r = client.post("/api/v1/koyo-hoken/insured-persons/import", content=payroll,
                                params={"mapping": "ja"},
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
            assert r.status_code == 200 and r.json()["imported_persons"] == rows, r.text[:300]

        steps = [measure("baseline: csv.DictReader", rows, parse_only, parse_only),
                 measure("import use case (in process)", rows, use_case, use_case),
                 measure("import over HTTP (TestClient)", rows, http, http),
                 measure("payroll baseline: CP932 decode + csv.DictReader", rows, payroll_parse_only,
                         payroll_parse_only),
                 measure("payroll import, CP932 `ja` mapping (in process)", rows, payroll_use_case, payroll_use_case),
                 measure("payroll import over HTTP (TestClient)", rows, payroll_http, payroll_http)]
        with db.sessions() as s:
            from sqlalchemy import text as sql
            persons = s.execute(sql("SELECT count(*) FROM insured_persons")).scalar_one()
            events = s.execute(sql("SELECT count(*) FROM outbox")).scalar_one()
        db.dispose()
        return steps, persons, events, (load_before, os.getloadavg()[0])


def markdown(steps: list[Step], rows: int, persons: int, events: int, load: tuple[float, float]) -> str:
    base = steps[0]
    lines = [BEGIN, "## koyo_hoken: CSV import of 10,000 persons (`bench/bench_koyo_import.py`)", "",
             f"{rows:,} hire rows (every row with kana to normalise, a 被保険者番号 and a My Number to seal), "
             "SQLite, one transaction, all or nothing. Baseline: a plain `csv.DictReader` pass over the same file, "
             "same run. Peak = tracemalloc peak of Python allocations during the step (second pass). CPU s = the "
             "process's CPU time in the step (all threads), and rows per CPU second.", "",
             "| step | seconds | rows/s | × baseline time | CPU s | rows per CPU s | peak MiB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in steps[:3]:
        lines.append(f"| {s.name} | {s.seconds:.2f} | {s.rows_per_s:,.0f} | {s.seconds / base.seconds:,.0f} | "
                     f"{s.cpu_seconds:.2f} | {rows / max(s.cpu_seconds, 1e-9):,.0f} | {s.peak_mib:.1f} |")
    lines += ["", "### Payroll file (issue 25): the same hires as a CP932 payroll export with Japanese headers", "",
              "Mapping `ja` (氏名・フリガナ split at the space, half-width kana widened, dates 1985/1/11, 性別 男/女, "
              "賃金月額 with ',', an extra 部署 column ignored, the 事業所 found by its 事業所番号 among 20), encoding "
              "detected. Baseline: CP932 decode + `csv.DictReader` over the same bytes, same run.", "",
              "| step | seconds | rows/s | × baseline time | CPU s | rows per CPU s | peak MiB |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    pbase = steps[3]
    for s in steps[3:]:
        lines.append(f"| {s.name} | {s.seconds:.2f} | {s.rows_per_s:,.0f} | {s.seconds / pbase.seconds:,.0f} | "
                     f"{s.cpu_seconds:.2f} | {rows / max(s.cpu_seconds, 1e-9):,.0f} | {s.peak_mib:.1f} |")
    lines += ["", f"Rows written over the eight imports: {persons:,} persons, {events:,} outbox events "
              "(one `insured_person.registered` each). "
              f"Load average (1 min, 2 cores) before / after: {load[0]:.1f} / {load[1]:.1f}.", END]
    return "\n".join(lines)


def main() -> None:
    rows = int(os.environ.get("BENCH_KOYO_ROWS", "10000"))
    steps, persons, events, load = run(rows)
    for s in steps:
        print(f"{s.name}: {s.seconds:.2f} s, {s.rows_per_s:,.0f} rows/s, CPU {s.cpu_seconds:.2f} s "
              f"({rows / max(s.cpu_seconds, 1e-9):,.0f} rows per CPU s), peak {s.peak_mib:.1f} MiB")
    print(f"load average before / after: {load[0]:.1f} / {load[1]:.1f}")
    write_section("bench_koyo_import", markdown(steps, rows, persons, events, load))
    print(f"written: {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
