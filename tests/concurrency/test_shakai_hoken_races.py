"""shakai_hoken under parallel requests: one person, one open enrolment; one month, one 標準報酬月額;
one 事業所, one office row; one loss. Served by uvicorn on loopback (real parallel requests, its test
database), released together by a barrier; afterwards the database is asked, and no answer was a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from services.shakai_hoken.models import Enrolment, ShahoOffice, StandardRemuneration, TeijiResultRow
from shared.db import Database
from shared.settings import CommonSettings
from tests.concurrency.harness import at_once, covers, served
from tests.conftest import bearer
from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures
from tests.shakai_hoken.conftest import persons  # noqa: F401 - the person seeder fixture
from tests.shakai_hoken.support import BASE, PersonSeeder, office_tokyo
from tests.shakai_hoken.test_teiji_run import seed_bulk
from tests.support.jigyosho import JigyoshoSeeder, jigyosho  # noqa: F401 - the seeder fixture


@pytest.fixture(scope="module")
def shaho_url(settings: CommonSettings) -> Iterator[str]:
    with served("shakai_hoken", settings) as url:
        yield url


def _no_5xx(answers: list[httpx.Response]) -> None:
    assert all(r.status_code < 500 for r in answers), [(r.status_code, r.text[:200]) for r in answers]


def _count(settings: CommonSettings, stmt) -> int:  # type: ignore[no-untyped-def]
    db = Database(settings.database_url("shakai_hoken"))
    try:
        with db.sessions() as s:
            return int(s.scalar(stmt) or 0)
    finally:
        db.dispose()


@pytest.fixture
def tenant(jigyosho: JigyoshoSeeder) -> str:  # noqa: F811
    tid = str(uuid.uuid4())
    jigyosho.open(tid, "js-1", services=("shakai_hoken",))
    return tid


@covers("PUT /api/v1/shakai-hoken/offices/{jigyosho_id}")
def test_ten_first_writes_of_one_office_make_one_row(shaho_url, tokens, tenant, settings):  # noqa: F811
    h = bearer(tokens.user(tenant))
    answers = at_once(shaho_url, [lambda c, i=i: c.put(f"{BASE}/offices/js-1", headers=h,
                                                       json=office_tokyo(office_number=str(10000 + i)))
                                  for i in range(10)])
    _no_5xx(answers)
    assert all(r.status_code in (200, 201, 409) for r in answers), [r.status_code for r in answers]
    assert sum(r.status_code == 201 for r in answers) == 1
    assert _count(settings, select(func.count()).select_from(ShahoOffice).where(ShahoOffice.tenant_id == tenant)) == 1


@covers("POST /api/v1/shakai-hoken/enrolments", "POST /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/loss",
        "POST /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/standard-remunerations")
def test_one_person_one_open_enrolment_one_grade_per_month_one_loss(
        shaho_url, tokens, tenant, settings, persons: PersonSeeder):  # noqa: F811
    h = bearer(tokens.user(tenant))
    with httpx.Client(base_url=shaho_url, timeout=60) as c:
        assert c.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    pid = persons.register(tenant, "js-1")
    # Ten enrolments of one person at once, with different 取得日: one is open, the rest 409.
    answers = at_once(shaho_url, [lambda c, i=i: c.post(f"{BASE}/enrolments", headers=h, json={
        "insured_person_id": pid, "birth_date": "1980-01-01", "acquired_on": f"2026-04-{i + 1:02d}",
        "remuneration": 300_000}) for i in range(10)])
    _no_5xx(answers)
    assert sorted(r.status_code for r in answers) == [201] + [409] * 9, [r.text[:120] for r in answers]
    eid = next(r.json()["id"] for r in answers if r.status_code == 201)
    assert _count(settings, select(func.count()).select_from(Enrolment).where(
        Enrolment.tenant_id == tenant, Enrolment.lost_on.is_(None))) == 1
    # Five decisions for one month at once: one row.
    answers = at_once(shaho_url, [lambda c, i=i: c.post(f"{BASE}/enrolments/{eid}/standard-remunerations",
                                                        headers=h, json={"effective_from": "2026-09",
                                                                         "remuneration": 300_000 + i * 50_000,
                                                                         "reason": "teiji"}) for i in range(5)])
    _no_5xx(answers)
    assert sorted(r.status_code for r in answers) == [201] + [409] * 4
    assert _count(settings, select(func.count()).select_from(StandardRemuneration).where(
        StandardRemuneration.enrolment_id == eid)) == 2  # 取得時 + one 定時決定
    # Five losses at once: one.
    answers = at_once(shaho_url, [lambda c, i=i: c.post(f"{BASE}/enrolments/{eid}/loss", headers=h,
                                                        json={"last_day": f"2026-10-{i + 10}"}) for i in range(5)])
    _no_5xx(answers)
    assert sorted(r.status_code for r in answers) == [200] + [409] * 4


@covers("POST /api/v1/shakai-hoken/teiji-runs")
def test_four_teiji_runs_at_once_decide_each_person_once(
        shaho_url, tokens, tenant, settings, persons: PersonSeeder):  # noqa: F811

    h = bearer(tokens.user(tenant))
    seed_bulk(persons, tenant, 120)
    answers = at_once(shaho_url, [lambda c: c.post(f"{BASE}/teiji-runs", headers=h, json={"year": 2026})
                                  for _ in range(4)])
    _no_5xx(answers)
    assert all(r.status_code == 201 for r in answers), [r.text[:200] for r in answers]
    assert sum(r.json()["written"] for r in answers) == 120
    assert len({r.json()["id"] for r in answers}) == 1
    assert _count(settings, select(func.count()).select_from(TeijiResultRow).where(
        TeijiResultRow.tenant_id == tenant)) == 120
