"""Helpers of the end-to-end tests that drive the whole stack (tests/e2e/test_make_run.Stack) through
the gateway: 事業所, partner clients, the My Number grant, and the e-Gov sandbox wiring."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.e2e.test_make_run import Stack, login


def efiling_stack(var_dir: Path, **env: str) -> tuple[Stack, str]:
    """A stack whose efiling talks to the stack's own e-Gov sandbox and polls it quickly: (stack, sandbox URL)."""
    stack = Stack(var_dir)
    sandbox = f"http://127.0.0.1:{stack.env['ROUMU_EGOV_SANDBOX_PORT']}"
    stack.env.update({
        "ROUMU_EFILING_EGOV_AUTH_URL": f"{sandbox}/auth", "ROUMU_EFILING_EGOV_API_URL": f"{sandbox}/shinsei/v2",
        "ROUMU_EFILING_POLL_INTERVAL_SECONDS": "0.2", "ROUMU_EFILING_WORKER_INTERVAL_SECONDS": "0.2", **env,
    })
    return stack, sandbox


def jigyosho(client: httpx.Client, h: dict[str, str], name: str, number: str) -> str:
    r = client.post("/api/v1/accounts/jigyosho", headers=h, json={
        "name": name, "name_kana": "カブシキガイシャヤマダ", "address": "東京都千代田区千代田1-1",
        "employment_insurance_office_number": number})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def once_known(send: Callable[[], httpx.Response], timeout: float = 15.0) -> httpx.Response:
    """Send until the 事業所 is known: right after its creation in accounts, a service answers 404
    "not (yet) known" until the event reaches its read model (docs/accounts.md); clients retry."""
    deadline = time.monotonic() + timeout
    while True:
        r = send()
        if r.status_code != 404 or "jigyosho_id" not in r.json() or time.monotonic() >= deadline:
            return r
        time.sleep(0.1)


def partner_client(client: httpx.Client, h: dict[str, str], scopes: list[str], jigyosho_ids: list[str]) -> str:
    r = client.post("/api/v1/auth/partner-clients", headers=h,
                    json={"name": "従業員ポータル", "scopes": scopes, "jigyosho_ids": jigyosho_ids})
    assert r.status_code == 201, r.text
    tok = client.post("/api/v1/auth/oauth/token", data={"grant_type": "client_credentials"},
                      auth=(r.json()["client_id"], r.json()["client_secret"]))
    assert tok.status_code == 200, tok.text
    return str(tok.json()["access_token"])


def link_egov_account(c: httpx.Client, admin: dict[str, str], label: str = "事務所") -> str:
    """Staff link the office's e-Gov account: OAuth with the sandbox (its /auth redirects at once)."""
    link = c.post("/api/v1/efiling/egov-accounts", headers=admin, json={"label": label, "login_hint": "office"})
    assert link.status_code == 201, link.text
    back = httpx.get(link.json()["authorization_url"], follow_redirects=False)
    assert back.status_code == 302, back.text
    q = parse_qs(urlsplit(back.headers["location"]).query)
    done = c.post("/api/v1/efiling/egov-accounts/callback", headers=admin,
                  json={"code": q["code"][0], "state": q["state"][0]})
    assert done.status_code == 200, done.text
    return str(link.json()["account"]["id"])


def grant_my_number_view(c: httpx.Client, admin: dict[str, str]) -> dict[str, str]:
    """The administrator grants themself the unmasked view of My Number (a hand-off to e-filing
    discloses it, issue 18), logs in again (a grant change may end the user's sessions) and waits
    until koyo_hoken holds the grant: the new headers."""
    me = c.get("/api/v1/auth/me", headers=admin).json()["user_id"]
    user = c.get(f"/api/v1/accounts/users/{me}", headers=admin)
    body = user.json()
    grants = {**body["grants"], "menus": {**body["grants"]["menus"], "my_number_unmasked": "read"}}
    r = c.put(f"/api/v1/accounts/users/{me}", headers={**admin, "If-Match": user.headers["etag"]},
              json={"login_id": body["login_id"], "display_name": body["display_name"], "roles": body["roles"],
                    "grants": grants})
    assert r.status_code == 200, r.text
    again = {"Authorization": f"Bearer {login(c).json()['access_token']}"}
    probe = f"/api/v1/koyo-hoken/procedures/{uuid.uuid4()}/form-data"
    deadline = time.monotonic() + 30
    while c.get(probe, headers=again, params={"unmask": "true"}).status_code != 404:
        assert time.monotonic() < deadline, "koyo_hoken never saw the unmasked-view grant"
        time.sleep(0.1)
    return again
