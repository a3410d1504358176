"""The console's アカウント screen, notices banner and idle timeout in a real headless Chromium
against a real stack (the fixtures of test_console_browser: every service as a process, NATS, the
gateway; no mocked API).

Flows: a published maintenance notice shows after login with its dates; the password change
refused with the policy's messages (too short, among the last 24, once a day with the next allowed
time), next to the field; TOTP enrolment from the account screen (the QR code renders under the CSP)
and its recovery codes shown once; active sessions listed, one revoked (auth then refuses it), and
"logout everywhere" ends them all; the own login history; the idle timeout warns, then signs out
(the browser's clock is moved, not waited for). Every screen: axe-core 0 serious/critical, no CSP
violation, a screenshot."""

# ruff: noqa: F811 - the fixtures imported from test_console_browser are used as parameters
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from shared.tokens import TokenSigner
from tests.e2e.test_console_browser import (  # noqa: F401 - pytest fixtures used by name
    COOKIE,
    STRONG,
    Screen,
    Users,
    browser,
    fill_credentials,
    shots,
    stack,
)
from tests.e2e.test_make_run import Stack

pytestmark = pytest.mark.slow

AGAIN = "Harbor-violet-Compass-" + uuid.uuid4().hex[:6]


def operator_headers(stack: Stack) -> dict[str, str]:
    """An operator's token signed with the stack's own key (operators have no login screen)."""
    signer = TokenSigner(Path(stack.env["ROUMU_VAR_DIR"]) / "keys", "access")
    token = signer.sign({"sub": "op-e2e", "typ": "access", "kind": "operator", "roles": ["operator"],
                         "aud": "roumu", "iss": "roumu-auth"}, 300)
    return {"Authorization": f"Bearer {token}"}


def staff_with_password(c: httpx.Client, login_id: str, name: str) -> str:
    """A staff user who has set their own password (STRONG) today, by API."""
    temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
    Users(c).create(login_id, name, temporary)
    r = c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": login_id, "password": temporary})
    assert r.json()["status"] == "password_change_required", r.text
    r = c.post("/api/v1/auth/login/password", json={"challenge": r.json()["challenge"], "new_password": STRONG})
    assert r.status_code == 200 and r.json()["status"] == "authenticated", r.text
    return str(r.json()["access_token"])


def field_message(page: Any, name: str) -> str:
    page.wait_for_function(f"() => document.querySelector('input[name={name}]')"
                           "?.getAttribute('aria-invalid') === 'true'")
    described = page.locator(f"input[name={name}]").get_attribute("aria-describedby") or ""
    return " ".join(page.locator(f"[id='{i}']").inner_text() for i in described.split() if i)


def test_notices_password_policy_totp_sessions_history_and_logout_everywhere(stack: Stack, browser: Any,
                                                                             shots: Path) -> None:
    starts = (datetime.now(UTC) + timedelta(days=40)).replace(hour=1, minute=0, second=0, microsecond=0)
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        notice = c.post("/api/v1/accounts/notices", headers=operator_headers(stack), json={
            "kind": "maintenance", "title": "定期メンテナンスのお知らせ", "body": "システムを停止します。",
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=3)).isoformat()})
        assert notice.status_code == 201, notice.text
        users = Users(c)
        staff_with_password(c, "sato", "佐藤 次郎")
        # An administrator's reset: the forced change is exempt from "once a day", not from the history.
        user_id = c.get("/api/v1/accounts/users", headers=users.admin, params={"limit": 100}).json()["items"]
        [sato] = [u["id"] for u in user_id if u["login_id"] == "sato"]
        temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
        r = c.post(f"/api/v1/auth/users/{sato}/password-reset", headers=users.admin,
                   json={"temporary_password": temporary})
        assert r.status_code == 204, r.text
    s = Screen(browser, stack.url, shots)
    try:
        page = s.page
        page.goto("/")
        fill_credentials(page, "sato", temporary)
        page.get_by_role("heading", name="パスワードの変更").wait_for()
        page.locator("input[name=new_password]").fill(STRONG)
        page.locator("input[name=new_password_confirm]").fill(STRONG)
        page.get_by_role("button", name="変更してログイン").click()
        assert "直近24回" in field_message(page, "new_password")  # among the last 24
        page.locator("input[name=new_password]").fill(AGAIN)
        page.locator("input[name=new_password_confirm]").fill(AGAIN)
        page.get_by_role("button", name="変更してログイン").click()
        banner = page.get_by_test_id("notice")
        banner.wait_for()
        assert "定期メンテナンスのお知らせ" in banner.inner_text()
        assert "メンテナンス" in banner.inner_text()
        assert "令和" in page.get_by_test_id("notice-period").inner_text()  # its dates, in 和暦
        s.check("home-notices")
        with httpx.Client(base_url=stack.url, timeout=30) as c:  # a second session, on "another device"
            r = c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": "sato", "password": AGAIN})
            assert r.json()["status"] == "authenticated", r.text
            other = r.json()["access_token"]

        page.get_by_role("link", name="アカウント").click()
        page.get_by_role("heading", name="アカウント").wait_for()
        page.get_by_test_id("login-history").locator("tbody tr").first.wait_for()
        assert "成功" in page.get_by_test_id("login-history").inner_text()
        s.check("account")

        # The password policy, next to the field: too short, and once a day with the next allowed time.
        page.locator("input[name=current_password]").fill(AGAIN)
        page.locator("input[name=new_password]").fill("short")
        page.locator("input[name=new_password_confirm]").fill("short")
        page.get_by_role("button", name="パスワードを変更").click()
        msg = field_message(page, "new_password")
        assert "文字以上" in msg, msg
        assert "1日に1回" in msg, msg
        assert "次に変更できる日時" in page.get_by_test_id("form-error").inner_text()
        s.check("account-password-refused")

        # TOTP enrolment with the QR code; the recovery codes shown once.
        page.get_by_role("button", name="2段階認証を設定する").click()
        qr = page.get_by_role("img", name="認証アプリに登録する QR コード")
        qr.wait_for()
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        s.check("account-totp-enrolment")
        secret = page.get_by_test_id("totp-secret").inner_text().strip()
        page.get_by_role("textbox", name="確認コード").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="登録する").click()
        codes = page.get_by_test_id("recovery-codes")
        codes.wait_for()
        assert len(codes.locator("li").all()) >= 8
        s.check("account-recovery-codes")
        page.get_by_role("button", name="控えました").click()
        assert "設定済み" in page.get_by_test_id("totp-status").inner_text()

        # Sessions: this one and the API's; revoking the other ends it for auth too.
        rows = page.get_by_test_id("sessions").locator("tbody tr")
        page.wait_for_function("() => document.querySelectorAll('[data-testid=sessions] tbody tr').length >= 2")
        assert rows.locator("text=この端末").count() == 1
        with httpx.Client(base_url=stack.url, timeout=30) as c:
            assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
            page.get_by_role("button", name="に開始したセッションを終了").first.click()
            page.wait_for_function("() => document.querySelectorAll('[data-testid=sessions] tbody tr').length === 1")
            deadline = time.monotonic() + 10
            while c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code != 401:
                assert time.monotonic() < deadline, "the revoked session still works"
                time.sleep(0.2)

        page.get_by_role("button", name="すべての端末からログアウト").click()
        page.get_by_text("すべての端末からログアウトしました").wait_for()
        assert not [k for k in s.context.cookies() if k["name"] == COOKIE]
        page.reload()
        page.get_by_role("heading", name="ログイン").wait_for()
        assert s.storage() == {"local": 0, "session": 0}
    finally:
        s.close()


def test_idle_timeout_warns_then_signs_out(stack: Stack, browser: Any, shots: Path) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        staff_with_password(c, "ishii", "石井 三郎")
    s = Screen(browser, stack.url, shots)
    try:
        page = s.page
        # The page's clock is Playwright's: moved forward below instead of waiting 30 minutes.
        page.clock.install()
        page.goto("/")
        fill_credentials(page, "ishii", STRONG)
        page.get_by_test_id("previous-login").wait_for()
        assert not page.get_by_test_id("idle-warning").is_visible()

        page.clock.fast_forward("27:00")  # auth's default idle period is 30:00, the warning 2:00 before
        page.clock.run_for(2000)
        assert not page.get_by_test_id("idle-warning").is_visible()
        page.clock.fast_forward("01:30")  # 28:30 without input
        page.clock.run_for(2000)
        warning = page.get_by_test_id("idle-warning")
        warning.wait_for()
        assert "秒でログアウト" in warning.inner_text()
        s.check("idle-warning")

        # "Continue" keeps the session; then a whole idle period again signs out.
        page.get_by_role("button", name="ログインを続ける").click()
        page.clock.run_for(2000)
        assert not warning.is_visible()
        assert page.get_by_test_id("previous-login").is_visible()
        page.clock.fast_forward("28:30")
        page.clock.run_for(2000)
        warning.wait_for()
        page.clock.fast_forward("02:00")
        page.clock.run_for(2000)
        page.get_by_text("一定時間操作がなかったため、自動的にログアウトしました").wait_for()
        page.get_by_role("heading", name="ログイン").wait_for()
        assert not [k for k in s.context.cookies() if k["name"] == COOKIE]  # auth ended the session
    finally:
        s.close()
