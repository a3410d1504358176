"""Menu and 事業所 grants, enforced by accounts and, through shared.permissions, by koyo_hoken:
ids outside the grant are 404; a revoked grant is refused in another service within 5 seconds."""

import time

from tests.accounts.conftest import BASE, add_jigyosho, add_user, open_tenant, wait_for
from tests.conftest import bearer

KOYO = "/api/v1/koyo-hoken/insured-persons"


def person(jigyosho_id):
    return {"jigyosho_id": jigyosho_id, "family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ",
            "given_name_kana": "タロウ", "birth_date": "1990-04-01", "hire_date": "2026-04-01", "weekly_hours": "40"}


def test_staff_of_jigyosho_a_cannot_read_list_or_guess_b(service_client, tokens):
    accounts = service_client("accounts")
    koyo = service_client("koyo_hoken")
    t = open_tenant(accounts, tokens)
    a, b = add_jigyosho(accounts, t, "Ａ商事株式会社"), add_jigyosho(accounts, t, "Ｂ工業株式会社")
    _, staff = add_user(accounts, t, tokens, "staff-a", {"koyo_hoken": "write", "jigyosho_admin": "read"},
                        {"all": False, "ids": [a]})

    # accounts: the 事業所 master
    r = accounts.get(f"{BASE}/jigyosho", headers=bearer(staff))
    assert r.status_code == 200 and [j["id"] for j in r.json()["items"]] == [a] and r.json()["total"] == 1
    assert accounts.get(f"{BASE}/jigyosho/{a}", headers=bearer(staff)).status_code == 200
    for other in (b, "00000000-0000-0000-0000-000000000000"):
        r = accounts.get(f"{BASE}/jigyosho/{other}", headers=bearer(staff))
        assert r.status_code == 404 and r.json()["title"] == "指定されたリソースが見つかりません"
    r = accounts.put(f"{BASE}/jigyosho/{b}", headers={**bearer(staff), "If-Match": '"1"'}, json={})
    assert r.status_code in (403, 404, 422)
    # An administrator sees both.
    assert accounts.get(f"{BASE}/jigyosho", headers=bearer(t.admin_token)).json()["total"] == 2

    # koyo_hoken, through the grants accounts published
    wait_for(lambda: koyo.post(KOYO, headers=bearer(staff), json=person(a)).status_code == 201)
    in_b = koyo.post(KOYO, headers=bearer(t.admin_token), json=person(b))
    assert in_b.status_code == 201, in_b.text
    assert koyo.get(f"{KOYO}/{in_b.json()['id']}", headers=bearer(staff)).status_code == 404
    assert koyo.get(f"{KOYO}/{in_b.json()['id']}", headers=bearer(t.admin_token)).status_code == 200
    assert koyo.post(KOYO, headers=bearer(staff), json=person(b)).status_code == 404
    assert koyo.get(KOYO, params={"jigyosho_id": b}, headers=bearer(staff)).status_code == 404
    listed = koyo.get(KOYO, headers=bearer(staff)).json()
    assert listed["total"] >= 1 and {i["jigyosho_id"] for i in listed["items"]} == {a}
    # A menu not granted: 403 with a Japanese title naming the menu.
    r = service_client("efiling").post("/api/v1/efiling/filings", headers=bearer(staff),
                                       json={"jigyosho_id": a, "procedure_code": "950A010002012000", "title": "x"})
    assert r.status_code == 403
    assert r.json()["title"] == "この操作を行う権限がありません" and "電子申請" in r.json()["detail"]


def test_revoked_menu_is_refused_in_another_service_within_5_seconds(service_client, tokens):
    accounts = service_client("accounts")
    koyo = service_client("koyo_hoken")
    t = open_tenant(accounts, tokens)
    a = add_jigyosho(accounts, t)
    user, staff = add_user(accounts, t, tokens, "staff-r", {"koyo_hoken": "read"}, {"all": False, "ids": [a]})
    wait_for(lambda: koyo.get(KOYO, headers=bearer(staff)).status_code == 200)

    r = accounts.put(f"{BASE}/users/{user['id']}",
                     headers={**bearer(t.admin_token), "If-Match": f'"{user["version"]}"'},
                     json={"login_id": "staff-r", "display_name": "担当者", "roles": ["staff"],
                           "grants": {"menus": {"files": "read"}, "jigyosho": {"all": False, "ids": [a]}}})
    assert r.status_code == 200, r.text
    revoked_at = time.monotonic()
    # The same (still valid) token, while "logged in": refused once koyo_hoken applied the event.
    wait_for(lambda: koyo.get(KOYO, headers=bearer(staff)).status_code == 403, timeout=5.0, interval=0.05)
    assert time.monotonic() - revoked_at <= 5.0

    # Disabling the user stops even the menus they still hold (files), within seconds.
    files = service_client("files")
    wait_for(lambda: files.get("/api/v1/files/files/00000000-0000-0000-0000-000000000000",
                               headers=bearer(staff)).status_code == 404, timeout=5.0)
    v = accounts.get(f"{BASE}/users/{user['id']}", headers=bearer(t.admin_token)).headers["etag"]
    assert accounts.post(f"{BASE}/users/{user['id']}/disable",
                         headers={**bearer(t.admin_token), "If-Match": v}).status_code == 200
    wait_for(lambda: files.get("/api/v1/files/files/00000000-0000-0000-0000-000000000000",
                               headers=bearer(staff)).status_code == 403, timeout=5.0)


def test_my_number_unmasked_needs_an_explicit_grant(service_client, tokens):
    accounts = service_client("accounts")
    t = open_tenant(accounts, tokens)
    me = accounts.get(f"{BASE}/me/permissions", headers=bearer(t.admin_token))
    assert me.status_code == 200, me.text
    assert me.json()["menus"]["koyo_hoken"] == "write"
    assert "my_number_unmasked" not in me.json()["menus"]


def test_the_unmasked_view_can_be_granted_through_the_api(service_client, tokens, settings):
    """Issue 18: handing a procedure with a My Number to e-filing and seeing it in a package need
    `my_number_unmasked`; granting it (to a new user, or to oneself as administrator) answered 500,
    the event guard taking the menu's name in permissions_changed for a secret."""
    from tests.services.support import assert_matches_contract, outbox_payloads

    accounts = service_client("accounts")
    t = open_tenant(accounts, tokens)
    clerk, _ = add_user(accounts, t, tokens, "mn-clerk", {"koyo_hoken": "write", "my_number_unmasked": "read"})
    assert clerk["grants"]["menus"]["my_number_unmasked"] == "read"
    admin = bearer(t.admin_token)
    me = accounts.get(f"{BASE}/users/{t.admin_id}", headers=admin)
    body = me.json()
    r = accounts.put(f"{BASE}/users/{t.admin_id}", headers={**admin, "If-Match": me.headers["etag"]}, json={
        "login_id": body["login_id"], "display_name": body["display_name"], "roles": body["roles"],
        "grants": {**body["grants"], "menus": {"my_number_unmasked": "read"}}})
    assert r.status_code == 200, r.text
    for user in (clerk["id"], t.admin_id):
        [*_, changed] = [e for e in outbox_payloads(settings, "accounts", user)
                         if e["type"] == "roumu.accounts.user.permissions_changed"]
        assert changed["data"]["menus"]["my_number_unmasked"] == "read"
        assert_matches_contract(changed)
