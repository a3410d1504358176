"""The console's 管理 screens in a real headless Chromium against a real stack (the fixtures of
test_console_browser): users with the menu × 事業所 grants, security settings and the device CA,
partner clients (scopes and 事業所 changeable), webhooks and the 事業所 master (found by search past
the first 100) — each with axe-core (0 serious or critical), no CSP
violation, and a screenshot.

The flow the issue asks for: an administrator registers a user in the browser with grants (a menu
for reading, one 事業所 of two); that user logs in (forced password change) and sees exactly that —
管理 with the 事業所 section only, only the granted 事業所, and the API refuses the rest too. A display
name that looks like markup stays text everywhere."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ops import console
from tests.e2e import test_console_browser as base
from tests.e2e.test_console_browser import STRONG, XSS, Screen, fill_credentials
from tests.e2e.test_make_run import PASSWORD, Stack, login
from tests.webhooks.support import ScriptedReceiver, wait_for

pytestmark = pytest.mark.slow

# The browser and the screenshot directory of the console's first module, for this module's stack.
browser = base.browser
shots = base.shots


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    console.build()
    s = Stack(tmp_path_factory.mktemp("console-admin") / "var")
    s.env["ROUMU_DEMO_ADMIN_PASSWORD"] = PASSWORD
    s.env["ROUMU_GATEWAY_RATE_LIMIT_LOGIN"] = "200/minute;2000/hour"  # every login here is from 127.0.0.1
    # The webhook receiver runs on this machine: loopback is let through explicitly (SSRF rule).
    s.env.update({"ROUMU_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.1/32", "ROUMU_WEBHOOKS_WORKER_INTERVAL_SECONDS": "0.1"})
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        r = login(c)
        assert r.status_code == 200, r.text
        yield c, {"Authorization": f"Bearer {r.json()['access_token']}"}


def jigyosho(c: httpx.Client, admin: dict[str, str], name: str, kana: str) -> str:
    r = c.post("/api/v1/accounts/jigyosho", headers=admin,
               json={"name": name, "name_kana": kana, "address": "東京都千代田区千代田1-1"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def admin_screen(browser: Any, stack: Stack, shots: Path) -> Screen:
    s = Screen(browser, stack.url, shots)
    s.page.goto("/")
    fill_credentials(s.page, "admin", PASSWORD)
    s.page.get_by_test_id("previous-login").wait_for()
    return s


def error_next_to(page: Any, name: str) -> str:
    """The message the field points at (aria-describedby), once the field is marked invalid."""
    page.wait_for_function(f"() => document.querySelector('[name={name}]')?.getAttribute('aria-invalid') === 'true'")
    ids = page.locator(f"[name={name}]").first.get_attribute("aria-describedby") or ""
    return " ".join(page.locator(f"[id='{i}']").inner_text() for i in ids.split() if i)


def csr_pem(key: ec.EllipticCurvePrivateKey) -> str:
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "uketsuke-pc-1")])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def spki(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_admin_registers_a_user_with_grants_who_then_sees_them_applied(
        stack: Stack, browser: Any, shots: Path, api: tuple[httpx.Client, dict[str, str]]) -> None:
    c, admin = api
    granted = jigyosho(c, admin, "株式会社青葉製作所", "カブシキガイシャアオバセイサクショ")
    jigyosho(c, admin, "株式会社白樺商事", "カブシキガイシャシラカバショウジ")
    login_id = "aoba" + uuid.uuid4().hex[:4]
    temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]

    s = admin_screen(browser, stack, shots)
    try:
        page = s.page
        page.get_by_test_id("nav-admin").click()
        page.wait_for_url("**/admin/users")
        page.get_by_test_id("users-table").get_by_text("admin", exact=True).wait_for()
        s.check("admin-users")

        page.get_by_role("button", name="利用者を登録").click()
        page.locator("input[name=login_id]").fill("a")  # too short for the API's pattern
        page.locator("input[name=display_name]").fill(XSS)
        page.get_by_role("radio", name="事業所管理: 閲覧").check()
        page.get_by_role("radio", name="雇用保険: 更新").check()
        page.get_by_role("checkbox", name="株式会社青葉製作所").check()
        page.locator("input[name=temporary_password]").fill(temporary)
        page.get_by_role("button", name="登録", exact=True).click()
        assert "形式" in error_next_to(page, "login_id")  # the API's 422, in Japanese, beside the field
        assert "入力内容に誤りがあります" in page.get_by_test_id("form-error").inner_text()
        s.check("admin-user-form")

        page.locator("input[name=login_id]").fill(login_id)
        page.get_by_role("button", name="登録", exact=True).click()
        page.get_by_text(f"{login_id} を登録しました").wait_for()
        row = page.get_by_test_id(f"user-row-{login_id}")
        assert row.get_by_test_id("user-display-name").inner_text() == XSS  # text, never markup
        assert page.locator("img[src='x']").count() == 0
        assert "事業所管理(閲覧)" in row.inner_text() and "雇用保険(更新)" in row.inner_text()
        assert "1 件" in row.inner_text()

        # The record as the API holds it: the grants the matrix said, nothing more.
        users = c.get("/api/v1/accounts/users", headers=admin, params={"limit": 100}).json()["items"]
        [made] = [u for u in users if u["login_id"] == login_id]
        assert made["grants"] == {"menus": {"jigyosho_admin": "read", "koyo_hoken": "write"},
                                  "jigyosho": {"all": False, "ids": [granted]}}
        assert made["display_name"] == XSS and made["roles"] == ["staff"]

        # If-Match: an edit over a version someone else changed meanwhile is refused, not overwritten.
        page.get_by_role("button", name=f"{login_id} を編集").click()
        changed = c.put(f"/api/v1/accounts/users/{made['id']}", headers={**admin, "If-Match": f'"{made["version"]}"'},
                        json={"login_id": login_id, "display_name": XSS, "roles": ["staff"],
                              "grants": {**made["grants"], "menus": {**made["grants"]["menus"], "files": "read"}}})
        assert changed.status_code == 200, changed.text
        page.get_by_role("radio", name="電子申請: 閲覧").check()
        page.get_by_role("button", name="保存", exact=True).click()
        assert "他の利用者によって更新されています" in page.get_by_test_id("form-error").inner_text()
        after = c.get(f"/api/v1/accounts/users/{made['id']}", headers=admin).json()
        assert after["grants"]["menus"] == {"jigyosho_admin": "read", "koyo_hoken": "write", "files": "read"}
        page.get_by_role("button", name="閉じる").click()
        page.get_by_role("button", name=f"{login_id} の2段階認証リセット").click()
        page.get_by_text(f"{login_id} の2段階認証をリセットしました").wait_for()
        assert s.dialogs == []
    finally:
        s.close()

    # The new user: forced change on the login screen, then only what was granted.
    u = Screen(browser, stack.url, shots)
    try:
        page = u.page
        page.goto("/")
        fill_credentials(page, login_id, temporary)
        page.get_by_role("heading", name="パスワードの変更").wait_for()
        page.locator("input[name=new_password]").fill(STRONG)
        page.locator("input[name=new_password_confirm]").fill(STRONG)
        page.get_by_role("button", name="変更してログイン").click()
        page.get_by_test_id("previous-login").wait_for()
        assert page.get_by_test_id("user-name").inner_text() == XSS
        page.get_by_test_id("nav-admin").click()
        page.wait_for_url("**/admin/jigyosho")  # the only section of their menus
        nav = page.get_by_role("navigation", name="管理メニュー")
        assert nav.get_by_role("link").all_inner_texts() == ["事業所"]
        table = page.get_by_test_id("jigyosho-table")
        table.get_by_text("株式会社青葉製作所").wait_for()
        assert table.get_by_test_id("jigyosho-row").count() == 1
        assert table.get_by_text("株式会社白樺商事").count() == 0
        assert page.get_by_role("button", name="事業所を登録").count() == 0  # read only
        u.check("admin-jigyosho-granted")

        page.goto("/admin/users")  # typed by hand: not theirs, so back to their own section
        page.wait_for_url("**/admin/jigyosho")
        assert page.get_by_test_id("users-table").count() == 0
        assert u.dialogs == [] and page.locator("img[src='x']").count() == 0

        # The API refuses as the screen does.
        r = c.post("/api/v1/auth/login", json={"tenant_code": "demo", "login_id": login_id, "password": STRONG})
        assert r.json()["status"] == "authenticated", r.text
        mine = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert c.get("/api/v1/accounts/users", headers=mine).status_code == 403
        assert c.get("/api/v1/auth/partner-clients", headers=mine).status_code == 403
        assert c.post("/api/v1/accounts/jigyosho", headers=mine,
                      json={"name": "x", "name_kana": "エックス", "address": "x"}).status_code == 403
        listed = c.get("/api/v1/accounts/jigyosho", headers=mine).json()
        assert [j["id"] for j in listed["items"]] == [granted]
    finally:
        u.close()


def test_a_user_without_an_admin_menu_has_no_admin_screen(
        stack: Stack, browser: Any, shots: Path, api: tuple[httpx.Client, dict[str, str]]) -> None:
    c, admin = api
    login_id = "kono" + uuid.uuid4().hex[:4]
    r = c.post("/api/v1/accounts/users", headers=admin,
               json={"login_id": login_id, "display_name": "河野 次郎", "roles": ["staff"],
                     "grants": {"menus": {"koyo_hoken": "write"}, "jigyosho": {"all": True}}})
    assert r.status_code == 201, r.text
    temporary = "Temporary-pass-" + uuid.uuid4().hex[:8]
    deadline = time.monotonic() + 20
    while True:  # auth learns of the user from accounts' event
        reset = c.post(f"/api/v1/auth/users/{r.json()['id']}/password-reset", headers=admin,
                       json={"temporary_password": temporary})
        if reset.status_code == 204 or time.monotonic() > deadline:
            assert reset.status_code == 204, reset.text
            break
        time.sleep(0.2)
    s = Screen(browser, stack.url, shots)
    try:
        page = s.page
        page.goto("/admin/users")
        fill_credentials(page, login_id, temporary)
        page.get_by_role("heading", name="パスワードの変更").wait_for()
        page.locator("input[name=new_password]").fill(STRONG)
        page.locator("input[name=new_password_confirm]").fill(STRONG)
        page.get_by_role("button", name="変更してログイン").click()
        page.get_by_test_id("admin-forbidden").wait_for()
        assert page.get_by_test_id("nav-admin").count() == 0
        assert page.get_by_test_id("users-table").count() == 0
        s.check("admin-forbidden")
    finally:
        s.close()


def test_security_settings_and_device_certificates(stack: Stack, browser: Any, shots: Path,
                                                    api: tuple[httpx.Client, dict[str, str]]) -> None:
    c, admin = api
    tenant_id = c.get("/api/v1/auth/me", headers=admin).json()["tenant_id"]
    s = admin_screen(browser, stack, shots)
    try:
        page = s.page
        page.goto("/admin/policies")
        allowlist = page.locator("textarea[name=ip_allowlist]")
        allowlist.wait_for()
        page.get_by_test_id("device-ca-pem").wait_for(state="attached")
        s.check("admin-policies")

        # Checked as typed, by the API's own rule: the host bits of 192.0.2.1/24 are not zero.
        allowlist.fill("203.0.113.0/24\n192.0.2.1/24\n2001:db8::/32")
        assert "2行目" in error_next_to(page, "ip_allowlist") and "ホスト部" in error_next_to(page, "ip_allowlist")
        assert page.get_by_role("button", name="設定を保存").is_disabled()
        allowlist.fill("2001:db8::1/32")
        assert "ホスト部" in error_next_to(page, "ip_allowlist")
        s.check("admin-policies-invalid")
        allowlist.fill("")  # saving a list without 127.0.0.1 would shut this test out
        page.locator("input[name=threshold]").fill("abc")
        assert "半角数字" in error_next_to(page, "threshold")
        page.locator("input[name=threshold]").fill("7")
        page.get_by_role("button", name="設定を保存").click()
        page.get_by_text("設定を保存しました").wait_for()
        saved = c.get(f"/api/v1/accounts/tenants/{tenant_id}/settings", headers=admin).json()
        assert saved["lockout_policy"]["threshold"] == 7 and saved["ip_allowlist"] == []

        # If-Match: the screen's version is now stale; saving again is refused with the reason.
        page.locator("input[name=threshold]").fill("8")
        bump = c.get(f"/api/v1/accounts/tenants/{tenant_id}/settings", headers=admin)
        body = {k: bump.json()[k] for k in ("totp_required", "device_cert_required", "ip_allowlist",
                                            "password_policy", "lockout_policy")}
        body["lockout_policy"] = {**body["lockout_policy"], "duration_minutes": 31}  # a real change: a new version
        assert c.put(f"/api/v1/accounts/tenants/{tenant_id}/settings", json=body,
                     headers={**admin, "If-Match": bump.headers["etag"]}).status_code == 200
        page.get_by_role("button", name="設定を保存").click()
        assert "他の利用者によって更新されています" in page.get_by_test_id("form-error").inner_text()

        # A device certificate signed from a CSR, listed, then revoked.
        page.locator("input[name=label]").fill("受付PC-1")
        device_key = ec.generate_private_key(ec.SECP256R1())
        page.locator("textarea[name=csr_pem]").fill(csr_pem(device_key))
        page.get_by_role("button", name="署名して発行").click()
        issued = page.get_by_test_id("issued-certificate")
        issued.wait_for()
        pem = issued.locator("pre").inner_text()
        cert = x509.load_pem_x509_certificate(pem.encode())
        # The device's own key, certified under the label the administrator gave.
        assert spki(cert.public_key()) == spki(device_key.public_key())
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "受付PC-1"
        certs = page.get_by_test_id("device-certificates")
        certs.get_by_text("受付PC-1").wait_for()
        s.check("admin-device-certificate")
        page.get_by_role("button", name="受付PC-1 を失効させる").click()
        certs.get_by_text("失効（").wait_for()
        listed = c.get("/api/v1/auth/device-certificates", headers=admin).json()
        assert [x["revoked_at"] is not None for x in listed if x["label"] == "受付PC-1"] == [True]
        assert s.dialogs == []
    finally:
        s.close()


def test_partner_clients_webhooks_and_the_jigyosho_master(stack: Stack, browser: Any, shots: Path,
                                                          api: tuple[httpx.Client, dict[str, str]]) -> None:
    c, admin = api
    # Issue #20: an office files for hundreds of 事業所; the one granted below lies past the first 100.
    for n in range(100):
        jigyosho(c, admin, f"株式会社テスト商事{n:03d}", "カブシキガイシャテストショウジ")
    kuroda = jigyosho(c, admin, "株式会社黒田運輸", "カブシキガイシャクロダウンユ")
    everything = c.get("/api/v1/accounts/jigyosho", headers=admin, params={"limit": 100}).json()
    assert everything["total"] > 100 and kuroda not in {j["id"] for j in everything["items"]}
    s = admin_screen(browser, stack, shots)
    try:
        page = s.page
        # Partner client: the secret shown once works; a rotation replaces it at once.
        page.goto("/admin/partners")
        page.locator("input[name=name]").fill("従業員ポータル")
        page.get_by_role("checkbox", name="employees:read", exact=False).first.check()
        page.get_by_role("button", name="登録してシークレットを発行").click()
        first = page.get_by_test_id("secret-value").inner_text().strip()
        client_id = page.get_by_test_id("partner-clients").locator("tbody tr").last.locator("td").nth(1).inner_text()
        s.check("admin-partners")
        page.get_by_role("button", name="控えました").click()
        assert page.get_by_test_id("secret-once").count() == 0

        def token(secret: str) -> int:
            return c.post("/api/v1/auth/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(client_id, secret)).status_code

        assert token(first) == 200
        # Its 事業所: from all to one, as auth then holds it.
        page.get_by_role("button", name="従業員ポータル の事業所を変更").click()
        grant = page.locator("[aria-label='連携クライアントの事業所']")
        grant.get_by_role("checkbox", name="すべての事業所（今後登録される事業所を含む）").uncheck()
        grant.get_by_role("checkbox", name="株式会社テスト商事000").wait_for()
        assert grant.get_by_role("checkbox", name="株式会社黒田運輸").count() == 0  # not on the first page
        grant.get_by_test_id("jigyosho-search").fill("黒田")
        grant.get_by_role("checkbox", name="株式会社黒田運輸").check()
        grant.get_by_role("button", name="保存").click()
        page.get_by_text("従業員ポータル の事業所を変更しました").wait_for()
        [mine] = [x for x in c.get("/api/v1/auth/partner-clients", headers=admin).json() if x["client_id"] == client_id]
        assert mine["jigyosho_ids"] == [kuroda]

        # Its scopes: changed on the screen, the token issued before is refused from then on.
        issued = c.post("/api/v1/auth/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, first))
        old = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        assert c.get("/api/v1/koyo-hoken/insured-persons", headers=old).status_code == 200
        page.get_by_role("button", name="従業員ポータル のスコープを変更").click()
        scopes = page.locator("[aria-label='連携クライアントのスコープ']")
        scopes.get_by_role("checkbox", name="employees:read", exact=False).uncheck()
        scopes.get_by_role("checkbox", name="filings:read", exact=False).check()
        s.check("admin-partner-scopes")
        scopes.get_by_role("button", name="保存").click()
        page.get_by_text("従業員ポータル のスコープを変更しました").wait_for()
        [mine] = [x for x in c.get("/api/v1/auth/partner-clients", headers=admin).json() if x["client_id"] == client_id]
        assert mine["scopes"] == ["filings:read"]
        wait_for(lambda: c.get("/api/v1/koyo-hoken/insured-persons", headers=old).status_code == 401,
                 "the token issued before the scope change to be refused")
        fresh = c.post("/api/v1/auth/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, first))
        assert fresh.status_code == 200 and fresh.json()["scope"] == "filings:read"
        page.get_by_role("button", name="従業員ポータル のシークレット再発行").click()
        page.get_by_test_id("secret-once").wait_for()
        second = page.get_by_test_id("secret-value").inner_text().strip()
        assert second != first and token(second) == 200 and token(first) == 401
        page.get_by_role("button", name="控えました").click()
        page.get_by_role("button", name="従業員ポータル を無効化").click()
        page.get_by_role("button", name="無効化を確定").click()
        page.get_by_test_id("partner-clients").get_by_text("無効", exact=True).wait_for()
        assert token(second) == 401

        # Webhook: a refused URL explained beside the field, then registered with its secret once;
        # a real delivery (a hire) in its log, sent again from the screen with the same event.
        receiver = ScriptedReceiver()
        try:
            page.goto("/admin/webhooks")
            page.locator("input[name=url]").fill("https://10.0.0.1/hook")
            page.get_by_role("checkbox", name="person.registered", exact=False).check()
            page.get_by_role("button", name="登録してシークレットを発行").click()
            assert "内部ネットワーク" in error_next_to(page, "url")
            page.locator("input[name=url]").fill(receiver.url)
            page.get_by_role("button", name="登録してシークレットを発行").click()
            page.get_by_test_id("secret-once").wait_for()
            hook_secret = page.get_by_test_id("secret-value").inner_text().strip()
            assert len(hook_secret) >= 16
            page.get_by_role("button", name="控えました").click()

            hire = {"family_name": "黒田", "given_name": "一郎", "family_name_kana": "クロダ",
                    "given_name_kana": "イチロウ",
                    "birth_date": "1990-04-01", "hire_date": "2026-04-01", "weekly_hours": "40", "gender": "male",
                    "employment_type": "regular", "wage_payment": "monthly", "monthly_wage": 300000,
                    "job_type": "事務", "jigyosho_id": kuroda}
            # koyo_hoken answers 404 until accounts' event about the new 事業所 reaches it (docs/accounts.md).
            wait_for(lambda: c.post("/api/v1/koyo-hoken/insured-persons", headers=admin, json=hire).status_code == 201,
                     "the hire to be accepted")
            wait_for(lambda: receiver.requests, "the first delivery")
            page.get_by_role("button", name="配信履歴").click()
            log = page.get_by_test_id("delivery-log")
            log.get_by_text("成功").wait_for()
            assert "person.registered" in log.inner_text()
            s.check("admin-webhooks")
            log.get_by_role("button", name="person.registered を再送").click()
            wait_for(lambda: len(receiver.requests) >= 2, "the redelivery")
            first_body, again_body = receiver.requests[0].body, receiver.requests[1].body
            assert json.loads(again_body)["id"] == json.loads(first_body)["id"]  # the same event, again
            assert hook_secret not in log.inner_text()
        finally:
            receiver.stop()
        page.get_by_role("button", name="停止", exact=True).click()
        page.get_by_text("配信を停止しました").wait_for()
        endpoints = c.get("/api/v1/webhooks/endpoints", headers=admin).json()["items"]
        [ep] = [e for e in endpoints if e["url"] == receiver.url]
        assert ep["status"] == "disabled" and ep["event_types"] == ["person.registered"]
        assert hook_secret not in c.get(f"/api/v1/webhooks/endpoints/{ep['id']}", headers=admin).text

        # 事業所: a kana mistake beside its field, then created, edited, closed.
        page.goto("/admin/jigyosho")
        page.get_by_role("group", name="ページ送り").get_by_role("button", name="次へ").wait_for()  # > 100 of them
        page.get_by_role("button", name="事業所を登録").click()
        page.locator("input[name=name]").fill("株式会社緑川工業")
        page.locator("input[name=name_kana]").fill("みどりかわ")  # hiragana: the API wants katakana
        page.locator("input[name=address]").fill("大阪府大阪市北区梅田1-1")
        page.get_by_role("button", name="登録", exact=True).click()
        assert "形式" in error_next_to(page, "name_kana")
        s.check("admin-jigyosho-form")
        page.locator("input[name=name_kana]").fill("カブシキガイシャミドリカワコウギョウ")
        page.get_by_role("button", name="登録", exact=True).click()
        page.get_by_text("株式会社緑川工業 を登録しました").wait_for()
        page.get_by_test_id("jigyosho-list-search").fill("緑川")  # the newest: past the first page
        page.get_by_role("button", name="株式会社緑川工業 を編集").click()
        page.locator("input[name=headcount]").fill("42")
        page.get_by_role("button", name="保存", exact=True).click()
        page.get_by_text("株式会社緑川工業 を更新しました").wait_for()
        s.check("admin-jigyosho")
        page.get_by_role("button", name="株式会社緑川工業 を廃止").click()
        page.get_by_role("button", name="廃止する").click()
        page.get_by_text("株式会社緑川工業 を廃止しました").wait_for()
        [j] = c.get("/api/v1/accounts/jigyosho", headers=admin, params={"q": "株式会社緑川工業"}).json()["items"]
        assert j["status"] == "closed" and j["headcount"] == 42 and j["closed_on"]
        assert s.dialogs == []
    finally:
        s.close()
