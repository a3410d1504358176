"""The console's daily work (issue 21, first slice) in a real headless Chromium against a real stack
(the fixtures of test_console_browser): ダッシュボード, 事業所 → 被保険者, a person's page, and a
hire entered as a 資格取得届 — each screen with axe-core (0 serious or critical), no CSP violation
and a screenshot.

What it shows: a staff user with grants on 事業所 J1 only never sees J2's persons — not on the
dashboard, not in the list, not by search, and a J2 person's URL typed by hand gets a refusal
screen; the dashboard lists a seeded overdue procedure in red and one due soon; an administrator
with the grant reveals a My Number and the audit log (read through its API) records that view,
while the staff user without the grant has no reveal button and the API refuses them; a hire
entered in the console (the API's messages shown next to the field first) is a 資格取得届 in the
API with the deadline the calendar gives (2025-12-15 → 翌月10日 = 2026-01-10, a Saturday; 1/12 is
成人の日 → 2026-01-13), and is handed to e-filing."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops import console
from tests.e2e import test_console_browser as base
from tests.e2e.support import grant_my_number_view, jigyosho, once_known
from tests.e2e.test_console_browser import STRONG, Screen, fill_credentials
from tests.e2e.test_make_run import PASSWORD, Stack, login

pytestmark = pytest.mark.slow

browser = base.browser
shots = base.shots

MY_NUMBER = "123456789018"  # a valid check digit (tests/koyo_hoken/support.py)
J1_NUMBER = "1301-123456-7"
STAFF = "kobayashi"
KOYO = "/api/v1/koyo-hoken"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    console.build()
    s = Stack(tmp_path_factory.mktemp("console-work") / "var")
    s.env["ROUMU_DEMO_ADMIN_PASSWORD"] = PASSWORD
    s.env["ROUMU_GATEWAY_RATE_LIMIT_LOGIN"] = "200/minute;2000/hour"  # every login here is from 127.0.0.1
    # A hire of today is due on the 10th of next month (≤ 44 days with the holiday shift): "due soon".
    s.env["ROUMU_KOYO_HOKEN_DUE_SOON_DAYS"] = "45"
    s.start()
    try:
        yield s
    finally:
        s.stop()


def person(c: httpx.Client, h: dict[str, str], js: str, family: str, given: str, fkana: str, gkana: str,
           hire: date, **more: Any) -> str:
    body = {"jigyosho_id": js, "family_name": family, "given_name": given, "family_name_kana": fkana,
            "given_name_kana": gkana, "birth_date": "1990-04-01", "hire_date": hire.isoformat(), "weekly_hours": "40",
            "gender": "female", "employment_type": "regular", "wage_payment": "monthly", "monthly_wage": 250000,
            "job_type": "事務", **more}
    r = once_known(lambda: c.post(f"{KOYO}/insured-persons", headers=h, json=body))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def shutoku(c: httpx.Client, h: dict[str, str], person_id: str, on: date) -> dict[str, Any]:
    r = c.post(f"{KOYO}/procedures", headers=h, json={
        "insured_person_id": person_id, "kind": "shikaku_shutoku", "event_date": on.isoformat(),
        "details": {"jigyosho_number": J1_NUMBER, "cause": "2"}})
    assert r.status_code == 201, r.text
    return dict(r.json())


class World:
    """J1 and J2 with their persons, an administrator with the My Number grant, and a staff user
    with 雇用保険 (write) and 事業所 (read) on J1 only."""

    def __init__(self, c: httpx.Client) -> None:
        r = login(c)
        assert r.status_code == 200, r.text
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        tag = uuid.uuid4().hex[:4]
        self.j1 = jigyosho(c, admin, f"株式会社あおば{tag}", J1_NUMBER)
        self.j2 = jigyosho(c, admin, f"株式会社しらかば{tag}", "1301-654321-0")
        self.admin = grant_my_number_view(c, admin)
        a = self.admin
        today = date.today()
        self.overdue = person(c, a, self.j1, "遠藤", "健", "エンドウ", "ケン", today - timedelta(days=120))
        self.overdue_proc = shutoku(c, a, self.overdue, today - timedelta(days=120))
        self.soon = person(c, a, self.j1, "近藤", "真理", "コンドウ", "マリ", today)
        self.soon_proc = shutoku(c, a, self.soon, today)
        self.yamada = person(c, a, self.j1, "山田", "太郎", "ヤマダ", "タロウ", today - timedelta(days=400),
                             hihokensha_bango="5001-000001-4", my_number=MY_NUMBER)
        self.hire = person(c, a, self.j1, "佐藤", "花子", "サトウ", "ハナコ", date(2025, 12, 15))
        # J2: a namesake (found by the same search), an overdue procedure of its own, a My Number.
        self.j2_person = person(c, a, self.j2, "山田", "次郎", "ヤマダ", "ジロウ", today - timedelta(days=120),
                                hihokensha_bango="5001-000002-2", my_number=MY_NUMBER)
        shutoku(c, a, self.j2_person, today - timedelta(days=120))

        temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
        u = c.post("/api/v1/accounts/users", headers=a, json={
            "login_id": STAFF, "display_name": "小林 由美", "roles": ["staff"],
            "grants": {"menus": {"koyo_hoken": "write", "jigyosho_admin": "read", "efiling": "read"},
                       "jigyosho": {"all": False, "ids": [self.j1]}}})
        assert u.status_code == 201, u.text
        deadline = time.monotonic() + 20
        while True:  # auth learns of the user from accounts' event
            reset = c.post(f"/api/v1/auth/users/{u.json()['id']}/password-reset", headers=a,
                           json={"temporary_password": temporary})
            if reset.status_code == 204 or time.monotonic() > deadline:
                assert reset.status_code == 204, reset.text
                break
            time.sleep(0.2)
        r = c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": STAFF, "password": temporary})
        r = c.post("/api/v1/auth/login/password", json={"challenge": r.json()["challenge"], "new_password": STRONG})
        assert r.status_code == 200 and r.json()["status"] == "authenticated", r.text
        self.staff = {"Authorization": f"Bearer {r.json()['access_token']}"}
        deadline = time.monotonic() + 30  # koyo_hoken learns the grants from accounts' events
        while c.get(f"{KOYO}/insured-persons", headers=self.staff, params={"jigyosho_id": self.j1}).status_code != 200:
            assert time.monotonic() < deadline, "koyo_hoken never saw the staff user's grants"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[tuple[httpx.Client, World]]:
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        yield c, World(c)


def signed_in(browser: Any, stack: Stack, shots: Path, login_id: str, password: str) -> Screen:
    s = Screen(browser, stack.url, shots)
    s.page.goto("/")
    fill_credentials(s.page, login_id, password)
    s.page.get_by_test_id("previous-login").wait_for()
    return s


def red(color: str) -> bool:
    r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
    return r > 150 and g < 90 and b < 90


def test_staff_of_j1_sees_j1_only_the_dashboard_and_a_hire(
    stack: Stack, browser: Any, shots: Path, world: tuple[httpx.Client, World],
) -> None:
    c, w = world
    s = signed_in(browser, stack, shots, STAFF, STRONG)
    page = s.page
    try:
        # ダッシュボード: the overdue 取得届 in red, the one due soon; nothing of J2.
        page.get_by_test_id("nav-dashboard").click()
        overdue = page.get_by_test_id("overdue-table")
        row = overdue.locator(f"[data-person-id='{w.overdue}']")
        row.get_by_role("link", name="遠藤 健").wait_for()
        assert "遠藤 健" in row.inner_text() and "資格取得届" in row.inner_text() and "日超過" in row.inner_text()
        assert red(row.get_by_test_id("deadline-due").evaluate("e => getComputedStyle(e).color"))
        assert "令和" in row.get_by_test_id("deadline-due").inner_text()
        soon = page.get_by_test_id("due-soon-table").locator(f"[data-person-id='{w.soon}']")
        soon.get_by_role("link", name="近藤 真理").wait_for()
        assert "近藤 真理" in soon.inner_text() and "あと" in soon.inner_text()
        assert not red(soon.get_by_test_id("deadline-due").evaluate("e => getComputedStyle(e).color"))
        page.get_by_text("対応が必要な電子申請").wait_for()
        assert w.j2_person not in page.content()
        s.check("work-dashboard")

        # 事業所: J1 only.
        page.get_by_test_id("nav-jigyosho").click()
        rows = page.get_by_test_id("jigyosho-row")
        rows.first.wait_for()
        assert [rows.nth(i).get_attribute("data-jigyosho-id") for i in range(rows.count())] == [w.j1]
        s.check("work-jigyosho")
        rows.first.get_by_role("link").click()
        table = page.get_by_test_id("persons-table")
        table.locator(f"[data-person-id='{w.yamada}']").wait_for()
        assert "4 人中" in page.get_by_test_id("persons-info").inner_text()
        # 五十音順 (the default): エンドウ, コンドウ, サトウ, ヤマダ.
        names = table.get_by_test_id("person-row").all_inner_texts()
        assert [n.split("\t")[0] for n in names] == ["遠藤 健", "近藤 真理", "佐藤 花子", "山田 太郎"]
        # Search by kana typed in ひらがな, and by 被保険者番号: J2's 山田 次郎 is never found.
        for q, found in (("やまだ", w.yamada), ("5001", w.yamada)):
            page.get_by_test_id("person-search").fill(q)
            page.get_by_role("button", name="検索").click()
            page.wait_for_url(re.compile(r"q="))
            page.get_by_text("1 人中 1〜1 人目").wait_for()
            assert table.get_by_test_id("person-row").get_attribute("data-person-id") == found
            assert w.j2_person not in page.content()
        s.check("work-persons")
        api = c.get(f"{KOYO}/insured-persons", headers=w.staff, params={"q": "やまだ"}).json()
        assert [p["id"] for p in api["items"]] == [w.yamada]

        # A J2 person's URL and J2's list typed by hand: a refusal screen, nothing of theirs.
        page.goto(f"/persons/{w.j2_person}")
        page.get_by_test_id("refused").wait_for()
        assert "表示できません" in page.get_by_test_id("refused").inner_text()
        assert "山田 次郎" not in page.content()
        s.check("work-refused")
        page.goto(f"/jigyosho/{w.j2}/persons")
        page.get_by_test_id("refused").wait_for()
        assert "山田 次郎" not in page.content()

        # A person's page: masked My Number, no reveal button without the grant; the API refuses too.
        page.goto(f"/persons/{w.yamada}")
        assert page.get_by_test_id("person-name").inner_text() == "山田 太郎"
        page.get_by_test_id("eligibility-result").wait_for()
        assert page.get_by_test_id("eligibility-result").inner_text() == "被保険者となります"
        assert "20" in page.get_by_test_id("eligibility").inner_text()
        assert page.get_by_test_id("my-number").inner_text().endswith("9018")
        assert MY_NUMBER not in page.content()
        assert page.get_by_test_id("my-number-reveal").count() == 0
        page.get_by_test_id("my-number-no-grant").wait_for()
        assert c.get(f"{KOYO}/insured-persons/{w.yamada}/my-number", headers=w.staff).status_code == 403

        # A hire: 資格取得届 from the person's page.
        page.goto(f"/persons/{w.hire}")
        page.get_by_test_id("start-hire").click()
        page.get_by_role("heading", name="資格取得届 — 佐藤 花子").wait_for()
        page.get_by_test_id("char-check-ok").wait_for()
        number = page.get_by_test_id("hire-jigyosho-number")
        assert number.input_value() == J1_NUMBER  # from the 事業所 master
        number.fill("13-45")
        page.get_by_test_id("hire-save").click()
        page.get_by_test_id("procedure-status").wait_for()
        # The API's check named the number and the missing cause: shown next to those fields.
        page.locator("[data-testid='hire-jigyosho-number'][aria-invalid='true']").wait_for()
        described = number.get_attribute("aria-describedby") or ""
        messages = " ".join(page.locator(f"[id='{i}']").inner_text() for i in described.split() if i)
        assert "事業所番号" in messages or "桁" in messages, messages
        assert page.locator("[data-testid='hire-cause'][aria-invalid='true']").count() == 1
        assert page.get_by_test_id("procedure-state").inner_text() == "下書き"
        s.check("work-hire-errors")

        number.fill(J1_NUMBER)
        page.get_by_test_id("hire-cause").select_option("2")
        page.get_by_test_id("hire-save").click()
        page.locator("[data-testid='procedure-status'][data-state='checked']").wait_for()
        assert page.locator("[aria-invalid='true']").count() == 0
        assert "令和8年1月13日" in page.get_by_test_id("procedure-due").inner_text()
        page.get_by_test_id("check-person-problems").get_by_text("個人番号").wait_for()  # a warning, not blocking
        page.get_by_test_id("hire-ready").click()
        page.locator("[data-testid='procedure-status'][data-state='ready']").wait_for()
        page.get_by_test_id("hire-efiling").click()
        page.get_by_test_id("procedure-filing").wait_for()
        s.check("work-hire")

        [pr] = c.get(f"{KOYO}/procedures", headers=w.staff,
                     params={"insured_person_id": w.hire, "kind": "shikaku_shutoku"}).json()["items"]
        assert pr["event_date"] == "2025-12-15" and pr["state"] == "ready"
        assert pr["raw_due_date"] == "2026-01-10" and pr["due_date"] == "2026-01-13"
        assert pr["details"]["jigyosho_number"] == J1_NUMBER and pr["details"]["cause"] == "2"
        assert pr["filing_id"] and pr["jigyosho_id"] == w.j1
        filing = c.get(f"/api/v1/efiling/filings/{pr['filing_id']}", headers=w.admin)
        assert filing.status_code == 200, filing.text
        assert s.dialogs == []
    finally:
        s.close()


def test_a_my_number_reveal_is_recorded_in_the_audit_log(
    stack: Stack, browser: Any, shots: Path, world: tuple[httpx.Client, World],
) -> None:
    c, w = world
    s = signed_in(browser, stack, shots, "admin", PASSWORD)
    page = s.page
    try:
        page.goto(f"/persons/{w.yamada}")
        page.get_by_test_id("my-number-notice").wait_for()
        assert "表示は操作ログに記録されます" in page.get_by_test_id("my-number-notice").inner_text()
        assert MY_NUMBER not in page.content()
        s.check("work-person")
        before = time.time()
        page.get_by_test_id("my-number-reveal").click()
        page.get_by_text(MY_NUMBER).wait_for()
        page.get_by_test_id("my-number-hide").click()
        page.get_by_test_id("my-number-reveal").wait_for()
        assert MY_NUMBER not in page.content()

        me = c.get("/api/v1/auth/me", headers=w.admin).json()["user_id"]
        deadline = time.monotonic() + 30
        while True:  # audit_log ingests koyo_hoken's event from the stream
            entries = c.get("/api/v1/audit-log/entries", headers=w.admin, params={
                "category": "operation", "action": "roumu.koyo_hoken.my_number.viewed", "limit": 100}).json()["items"]
            mine = [e for e in entries if w.yamada in str(e["subject"]) and e["actor_id"] == me
                    and e["occurred_at"] >= time.strftime("%Y-%m-%dT%H:%M", time.gmtime(before - 60))]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert mine, entries
        assert MY_NUMBER not in str(mine)
    finally:
        s.close()
