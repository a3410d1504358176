"""The console's ログ管理 screen and the login screen's explanations in a real headless Chromium
against a real stack (the fixtures of test_console_browser; no mocked API).

Flows: a staff user without the operation-log menu sees no ログ管理 menu, is refused the screen,
and the API refuses them too; a refused login explains the lockout rule without saying whether the
account exists. An administrator reads the operation log (first page of 100, the next page equal to
the API's own next page), filters by action, user and day (a wrong action shown next to the field),
exports the CSV (byte for byte the API's export for the same filters), reads the login history and
a lockout with when it ends, asks "who saw this My Number", and runs the audit-chain verification.
Every screen: axe-core 0 serious/critical, no CSP violation, a screenshot."""

# ruff: noqa: F811 - the fixtures imported from test_console_browser are used as parameters
from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.support import grant_my_number_view, jigyosho, once_known
from tests.e2e.test_console_browser import (  # noqa: F401 - pytest fixtures used by name
    STRONG,
    Screen,
    Users,
    browser,
    fill_credentials,
    shots,
    stack,
)
from tests.e2e.test_make_run import PASSWORD, Stack
from tests.e2e.test_partner_scenario import HIRE

pytestmark = pytest.mark.slow

ACTION = "roumu.accounts.user."
OPERATIONS = 105  # more than one page of 100


def wait_entries(c: httpx.Client, h: dict[str, str], params: dict[str, Any], at_least: int) -> list[dict[str, Any]]:
    """The audit log's entries once it has ingested at least `at_least` (it reads the events later)."""
    deadline = time.monotonic() + 60
    while True:
        r = c.get("/api/v1/audit-log/entries", headers=h, params={**params, "limit": 500})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        if len(items) >= at_least:
            return items
        assert time.monotonic() < deadline, f"only {len(items)} entries for {params}"
        time.sleep(0.3)


def test_staff_without_the_log_menu_cannot_reach_the_log_screen(stack: Stack, browser: Any, shots: Path) -> None:
    temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        Users(c).create("nolog", "ログ権限なし", temporary)
        r = c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": "nolog", "password": temporary})
        r = c.post("/api/v1/auth/login/password", json={"challenge": r.json()["challenge"], "new_password": STRONG})
        staff = {"Authorization": f"Bearer {r.json()['access_token']}"}
        # The API refuses too, whatever the console shows.
        for path in ("/api/v1/audit-log/entries", "/api/v1/audit-log/entries.csv", "/api/v1/audit-log/verify"):
            refused = c.get(path, headers=staff)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
    s = Screen(browser, stack.url, shots)
    try:
        page = s.page
        page.goto("/logs")
        # A refused login: the lockout rule explained, without saying whether the account exists.
        fill_credentials(page, "nolog", "wrong-password-1234")
        help_ = page.get_by_test_id("login-help")
        help_.wait_for()
        assert "ロック" in help_.inner_text() and "お知らせしません" in help_.inner_text()
        s.check("login-refused-help")
        page.locator("input[name=password]").fill(STRONG)
        page.get_by_role("button", name="ログイン").click()
        page.get_by_test_id("no-access").wait_for()  # /logs, asked for directly
        nav = page.get_by_role("navigation", name="メニュー")
        assert nav.get_by_role("link", name="アカウント").is_visible()
        assert nav.get_by_role("link", name="ログ管理").count() == 0
        assert page.get_by_test_id("log-table").count() == 0
        s.check("logs-no-access")
    finally:
        s.close()


def test_log_screen_filters_pages_exports_lockouts_my_number_and_verification(stack: Stack, browser: Any,
                                                                                shots: Path) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        users = Users(c)
        admin_id = c.get("/api/v1/auth/me", headers=users.admin).json()["user_id"]
        # More than one page of operations of one kind.
        for i in range(OPERATIONS):
            r = c.post("/api/v1/accounts/users", headers=users.admin,
                       json={"login_id": f"bulk{i:03d}", "display_name": f"一括 {i}", "roles": ["staff"]})
            assert r.status_code == 201, r.text
        # A lockout: five wrong passwords in a row.
        locky = users.create("locky", "ロック 太郎", "Temporary-pass-" + uuid.uuid4().hex[:8])
        for _ in range(5):
            c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": "locky",
                                               "password": "wrong-" + "x" * 12})
        # A My Number seen by the administrator (who needs the unmasked-view grant for it).
        admin = grant_my_number_view(c, users.admin)
        place = jigyosho(c, admin, "株式会社ログ商事", "1301-123456-7")
        person = once_known(lambda: c.post("/api/v1/koyo-hoken/insured-persons", headers=admin,
                                           json={**HIRE, "jigyosho_id": place}))
        assert person.status_code == 201, person.text
        person_id = person.json()["id"]
        seen = c.get(f"/api/v1/koyo-hoken/insured-persons/{person_id}/my-number", headers=admin)
        assert seen.status_code == 200, seen.text
        wait_entries(c, admin, {"category": "operation", "action": ACTION}, OPERATIONS)
        views = c.get("/api/v1/audit-log/my-number-views", headers=admin, params={"person_id": person_id})
        deadline = time.monotonic() + 30
        while not views.json()["items"]:
            assert time.monotonic() < deadline, "the view never reached the audit log"
            time.sleep(0.3)
            views = c.get("/api/v1/audit-log/my-number-views", headers=admin, params={"person_id": person_id})

        s = Screen(browser, stack.url, shots)
        try:
            page = s.page
            page.goto("/")
            fill_credentials(page, "admin", PASSWORD)
            page.get_by_role("navigation", name="メニュー").get_by_role("link", name="ログ管理").click()
            page.get_by_role("heading", name="ログ管理").wait_for()
            rows = page.get_by_test_id("log-row")
            page.wait_for_function("() => document.querySelectorAll('[data-testid=log-row]').length === 100")
            s.check("logs-operation")

            # A wrong action is shown next to its field; nothing is asked of the API.
            action = page.get_by_label("操作（種類またはその先頭）")
            action.fill("Roumu")
            assert action.get_attribute("aria-invalid") == "true"
            assert page.get_by_text("英小文字").is_visible()

            # Filter by action: the first page, then the next one equals the API's own next page.
            action.fill(ACTION)
            page.get_by_role("button", name="検索").click()
            params = {"category": "operation", "action": ACTION, "limit": 100}
            api_first = c.get("/api/v1/audit-log/entries", headers=admin, params=params).json()
            first = [e["event_id"] for e in api_first["items"]]
            page.wait_for_function("id => document.querySelector('[data-testid=log-row]')?.dataset.eventId === id",
                                   arg=first[0])
            assert [r.get_attribute("data-event-id") for r in rows.all()] == first
            page.get_by_role("button", name="次のページ").click()
            page.get_by_text("2 ページ目").wait_for()
            api_second = c.get("/api/v1/audit-log/entries", headers=admin,
                               params={**params, "cursor": api_first["next_cursor"]}).json()
            second = [r.get_attribute("data-event-id") for r in rows.all()]
            assert second == [e["event_id"] for e in api_second["items"]]
            assert second and not set(second) & set(first)
            page.get_by_role("button", name="前のページ").click()
            page.get_by_text("1 ページ目").wait_for()

            # The CSV: the API's export for the same filters, byte for byte.
            with page.expect_download() as got:
                page.get_by_role("button", name="CSV 出力").click()
            downloaded = Path(got.value.path()).read_bytes()
            api_csv = c.get("/api/v1/audit-log/entries.csv", headers=admin,
                            params={"category": "operation", "action": ACTION})
            assert api_csv.status_code == 200
            assert downloaded == api_csv.content
            assert downloaded.count(b"\r\n") >= OPERATIONS + 1

            # Filter by user and by day (Japan time): today has them, tomorrow has none.
            page.get_by_label("利用者").select_option(admin_id)
            today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")).date()
            page.get_by_label("開始日").fill(today.isoformat())
            page.get_by_label("終了日").fill(today.isoformat())
            page.get_by_role("button", name="検索").click()
            page.wait_for_function("() => document.querySelectorAll('[data-testid=log-row]').length === 100")
            name = c.get(f"/api/v1/accounts/users/{admin_id}", headers=admin).json()["display_name"]
            assert {r.locator("td").nth(1).inner_text() for r in rows.all()} == {f"{name}（admin）"}
            page.get_by_label("開始日").fill((today + timedelta(days=1)).isoformat())
            page.get_by_label("終了日").fill((today + timedelta(days=1)).isoformat())
            page.get_by_role("button", name="検索").click()
            page.get_by_test_id("log-empty").wait_for()

            page.get_by_role("tab", name="ログイン履歴（1年）").click()
            page.wait_for_function("() => document.querySelectorAll('[data-testid=log-row]').length > 0")
            assert "roumu.auth.login" in page.get_by_test_id("log-table").inner_text()
            s.check("logs-login")

            page.get_by_role("tab", name="ロック記録（1年）").click()
            # Named when the user is among the first 100 the screen loads names for, else by id.
            lock = page.get_by_test_id("lockout-table").locator("tbody tr", has_text=re.compile(f"ロック 太郎|{locky}"))
            lock.wait_for()
            assert "令和" in lock.locator("td").nth(2).inner_text()  # when it ends
            assert "ロック中" in lock.inner_text()
            s.check("logs-lockouts")

            page.get_by_role("tab", name="マイナンバー閲覧記録").click()
            page.get_by_label("被保険者ID").fill(person_id)
            page.get_by_role("button", name="誰が見たかを調べる").click()
            table = page.get_by_test_id("my-number-views")
            table.locator("tbody tr").first.wait_for()
            assert len(table.locator("tbody tr").all()) == len(views.json()["items"])
            assert "127.0.0.1" in table.inner_text()
            assert HIRE["my_number"] not in page.content()  # who saw it, never the number
            s.check("logs-my-number")

            page.get_by_role("tab", name="改ざん検証").click()
            page.get_by_role("button", name="改ざん検証を実行").click()
            result = page.get_by_test_id("verify-result")
            result.wait_for()
            api_verify = c.get("/api/v1/audit-log/verify", headers=admin).json()
            assert api_verify["ok"] is True
            assert "改ざんは見つかりませんでした" in result.inner_text()
            s.check("logs-verify")
            assert s.storage() == {"local": 0, "session": 0}
        finally:
            s.close()
