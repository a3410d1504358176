"""The staff console in a real headless Chromium (Debian's), against a real stack: every service as
a process, NATS and the gateway (the Stack of test_make_run), no mocked API.

Flows: log in with TOTP and see 前回ログイン日時 (address and browser); no token in localStorage or
sessionStorage, the refresh token only in its HttpOnly cookie; a reload keeps the session through
that cookie; logout ends it. A user whose password was reset changes it on the login screen: the
policy's refusal shown next to the field, then accepted; a display name that looks like markup is
shown as text. An office that requires TOTP: enrolment on the login screen (the data: QR code
renders under the CSP), the recovery codes shown once. Every screen: axe-core with no serious or
critical violation, no CSP violation, and a screenshot (docs/screenshots/ with ROUMU_TEST_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from ops import console
from tests.e2e.test_make_run import PASSWORD, Stack, login

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# The committed screenshots (docs/screenshots, linked from the README) are rewritten only when asked
# (ROUMU_TEST_SCREENSHOTS=1), so a test run leaves the work tree clean; otherwise they go to a temp dir.
DOC_SHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("ROUMU_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
COOKIE = "__Secure-roumu-refresh"
XSS = "<img src=x onerror=alert(1)>"
STRONG = "Kestrel-orbit-Lantern-" + uuid.uuid4().hex[:6]

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)", allow_module_level=True)


class Users:
    """What the API set up before the browser starts: a TOTP user and a user with a reset password."""

    def __init__(self, c: httpx.Client) -> None:
        r = login(c)
        assert r.status_code == 200, r.text
        self.admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        self.c = c

    def create(self, login_id: str, display_name: str, temporary: str) -> str:
        r = self.c.post("/api/v1/accounts/users", headers=self.admin,
                        json={"login_id": login_id, "display_name": display_name, "roles": ["staff"]})
        assert r.status_code == 201, r.text
        user_id = str(r.json()["id"])
        deadline = time.monotonic() + 20
        while True:  # auth learns of the user from accounts' event
            reset = self.c.post(f"/api/v1/auth/users/{user_id}/password-reset", headers=self.admin,
                                json={"temporary_password": temporary})
            if reset.status_code == 204 or time.monotonic() > deadline:
                assert reset.status_code == 204, reset.text
                return user_id
            time.sleep(0.2)

    def with_totp(self, login_id: str, temporary: str) -> str:
        """Logs in by API (so the browser's login has a previous one), sets a password, enrols TOTP."""
        r = self.c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": login_id,
                                                    "password": temporary})
        assert r.json()["status"] == "password_change_required", r.text
        r = self.c.post("/api/v1/auth/login/password", json={"challenge": r.json()["challenge"],
                                                             "new_password": STRONG})
        assert r.status_code == 200 and r.json()["status"] == "authenticated", r.text
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        e = self.c.post("/api/v1/auth/me/totp/enrolment", headers=h)
        assert e.status_code == 200, e.text
        secret = str(e.json()["secret"])
        ok = self.c.post("/api/v1/auth/me/totp/enrolment/confirm", headers=h,
                         json={"code": pyotp.TOTP(secret).now()})
        assert ok.status_code == 200, ok.text
        return secret


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    console.build()
    s = Stack(tmp_path_factory.mktemp("console") / "var")
    s.env["ROUMU_DEMO_ADMIN_PASSWORD"] = PASSWORD
    # Every flow here logs in from 127.0.0.1, and each page load refreshes through a login path: the
    # gateway's per-address login limit (10/minute) is raised for the module, as the benches do.
    s.env["ROUMU_GATEWAY_RATE_LIMIT_LOGIN"] = "200/minute;2000/hour"
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return DOC_SHOTS if os.environ.get("ROUMU_TEST_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_api.sync_playwright() as p:
        # A fresh profile each run (launch_persistent_context would reuse one; a plain launch makes its own).
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=[*FLAGS, f"--disk-cache-dir={profile}"])
        try:
            yield b
        finally:
            b.close()


class Screen:
    """One browser context (a fresh cookie jar) and its page, recording CSP violations and dialogs."""

    def __init__(self, browser: Any, base_url: str, shots: Path) -> None:
        self.shots = shots
        self.context = browser.new_context(base_url=base_url, locale="ja-JP", timezone_id="Asia/Tokyo",
                                           viewport={"width": 1100, "height": 720})
        self.page = self.context.new_page()
        self.csp: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def check(self, name: str) -> None:
        """axe-core on the screen as it is (0 serious or critical), no CSP violation, a screenshot."""
        # Evaluated through the devtools protocol: the page's CSP (no inline script) still holds for the page.
        self.page.evaluate(AXE.read_text() + "\n;0")
        result = self.page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', '));
        }""")
        assert result == [], f"{name}: {result}"
        assert self.csp == [], f"{name}: CSP violations {self.csp}"
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        assert (self.shots / f"{name}.png").stat().st_size > 0

    def storage(self) -> dict[str, int]:
        return dict(self.page.evaluate("() => ({local: localStorage.length, session: sessionStorage.length})"))

    def close(self) -> None:
        self.context.close()


def fill_credentials(page: Any, login_id: str, password: str) -> None:
    page.get_by_label("テナントコード").fill("demo")
    page.get_by_label("ログインID").fill(login_id)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="ログイン").click()


def test_totp_login_last_login_no_stored_token_reload_and_logout(stack: Stack, browser: Any, shots: Path) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        users = Users(c)
        temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
        users.create("yamada", "山田 花子", temporary)
        secret = users.with_totp("yamada", temporary)
    s = Screen(browser, stack.url, shots)
    try:
        page = s.page
        r = page.goto("/")
        assert r is not None and r.headers["cache-control"] == "no-store"
        page.get_by_role("heading", name="ログイン").wait_for()
        s.check("login")

        fill_credentials(page, "yamada", STRONG)
        page.get_by_role("heading", name="確認コードの入力").wait_for()
        s.check("login-totp")
        # The next step's code: the enrolment above spent the current one (a used step never works again).
        page.get_by_role("textbox", name="確認コード").fill(pyotp.TOTP(secret).at(time.time() + 30))
        page.get_by_role("button", name="確認").click()

        prev = page.get_by_test_id("previous-login")
        prev.wait_for()
        assert page.get_by_test_id("user-name").inner_text() == "山田 花子"
        # The API login before: its time, address and client, in Japanese dates.
        assert "令和" in page.get_by_test_id("previous-login-at").inner_text()
        assert page.get_by_test_id("previous-login-ip").inner_text() == "127.0.0.1"
        assert "python-httpx" in page.get_by_test_id("previous-login-browser").inner_text()
        s.check("home")

        assert s.storage() == {"local": 0, "session": 0}
        [cookie] = [k for k in s.context.cookies() if k["name"] == COOKIE]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/api/v1/auth/token/refresh" and cookie["expires"] == -1
        assert page.evaluate("() => document.cookie") == ""  # nothing script can read

        page.reload()
        page.get_by_test_id("previous-login").wait_for()
        assert page.get_by_test_id("user-name").inner_text() == "山田 花子"
        assert s.storage() == {"local": 0, "session": 0}

        page.get_by_role("button", name="ログアウト").click()
        page.get_by_text("ログアウトしました").wait_for()
        assert not [k for k in s.context.cookies() if k["name"] == COOKIE]
        page.reload()
        page.get_by_role("heading", name="ログイン").wait_for()
        assert s.dialogs == []
    finally:
        s.close()


def test_forced_change_refused_then_accepted_and_a_markup_name_is_text(stack: Stack, browser: Any,
                                                                      shots: Path) -> None:
    temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        Users(c).create("xss", XSS, temporary)
    s = Screen(browser, stack.url, shots)
    try:
        page = s.page
        page.goto("/login")  # a client route: the gateway answers the page
        page.get_by_role("heading", name="ログイン").wait_for()
        fill_credentials(page, "xss", "wrong-password-1234")
        alert = page.get_by_test_id("form-error")
        alert.wait_for()
        assert "ログインできませんでした" in alert.inner_text()
        s.check("login-refused")

        page.locator("input[name=password]").fill(temporary)
        page.get_by_role("button", name="ログイン").click()
        page.get_by_role("heading", name="パスワードの変更").wait_for()
        page.locator("input[name=new_password]").fill("short")
        page.locator("input[name=new_password_confirm]").fill("short")
        page.get_by_role("button", name="変更してログイン").click()
        field = page.locator("input[name=new_password]")
        page.wait_for_function("() => document.querySelector('input[name=new_password]')"
                               ".getAttribute('aria-invalid') === 'true'")
        described = field.get_attribute("aria-describedby") or ""
        message = " ".join(page.locator(f"[id='{i}']").inner_text() for i in described.split() if i)
        assert "文字" in message, message  # the policy's own words, next to the field
        assert "パスワードが条件を満たしていません" in page.get_by_test_id("form-error").inner_text()
        s.check("login-password-change-refused")

        field.fill(STRONG)
        page.locator("input[name=new_password_confirm]").fill(STRONG)
        page.get_by_role("button", name="変更してログイン").click()
        page.get_by_test_id("previous-login").wait_for()
        name = page.get_by_test_id("user-name")
        assert name.inner_text() == XSS
        assert page.locator("img[src='x']").count() == 0
        assert page.get_by_test_id("previous-login-none").is_visible()
        assert s.dialogs == []
        assert s.storage() == {"local": 0, "session": 0}
        s.check("home-first-login")
    finally:
        s.close()


def test_totp_enrolment_on_the_login_screen_when_the_office_requires_it(stack: Stack, browser: Any,
                                                                        shots: Path) -> None:
    temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        users = Users(c)
        tenant_id = c.get("/api/v1/auth/me", headers=users.admin).json()["tenant_id"]
        path = f"/api/v1/accounts/tenants/{tenant_id}/settings"
        got = c.get(path, headers=users.admin)
        before = got.json()
        body = {k: before[k] for k in ("device_cert_required", "ip_allowlist", "password_policy", "lockout_policy")}
        r = c.put(path, headers={**users.admin, "If-Match": got.headers["etag"]}, json={**body, "totp_required": True})
        assert r.status_code == 200, r.text
        etag = r.headers["etag"]
        # Created after the settings change: when auth knows the user, it has applied the settings too.
        users.create("suzuki", "鈴木 一郎", temporary)
        s = Screen(browser, stack.url, shots)
        try:
            page = s.page
            page.goto("/")
            fill_credentials(page, "suzuki", temporary)
            page.get_by_role("heading", name="パスワードの変更").wait_for()
            page.locator("input[name=new_password]").fill(STRONG)
            page.locator("input[name=new_password_confirm]").fill(STRONG)
            page.get_by_role("button", name="変更してログイン").click()
            page.get_by_role("heading", name="2段階認証の設定").wait_for()
            qr = page.get_by_role("img", name="認証アプリに登録する QR コード")
            qr.wait_for()
            assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the data: QR under the CSP
            s.check("login-totp-enrolment")
            secret = page.locator("code").first.inner_text().strip()
            page.get_by_role("textbox", name="確認コード").fill(pyotp.TOTP(secret).now())
            page.get_by_role("button", name="登録してログイン").click()
            codes = page.get_by_test_id("recovery-codes")
            codes.wait_for()
            assert len(codes.locator("li").all()) >= 8
            s.check("login-recovery-codes")
            page.get_by_role("button", name="控えました。続ける").click()
            page.get_by_test_id("previous-login").wait_for()
            assert page.get_by_test_id("user-name").inner_text() == "鈴木 一郎"
            assert s.storage() == {"local": 0, "session": 0}
        finally:
            s.close()
            c.put(path, headers={**users.admin, "If-Match": etag},
                  json={**body, "totp_required": before["totp_required"]})
