"""お知らせ: maintenance at least one month ahead, end of service three months ahead, emergencies
exempt and marked; refused and accepted exactly at the boundaries; users see current notices."""

from datetime import datetime, timedelta

from services.accounts.settings import AccountsSettings
from shared.clock import JST, FrozenClock
from tests.accounts.conftest import BASE, open_tenant
from tests.conftest import bearer

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=JST)


def notice(kind, starts, **over):
    body = {"kind": kind, "title": "お知らせ", "body": "本文", "starts_at": starts.isoformat()}
    if kind == "maintenance":
        body["ends_at"] = (starts + timedelta(hours=4)).isoformat()
    return {**body, **over}


def test_lead_times_at_the_boundaries(service_client, tokens):
    c = service_client("accounts", clock=FrozenClock(NOW), accounts_settings=AccountsSettings())
    op = bearer(tokens.operator())
    one_month = datetime(2026, 2, 15, 10, 0, tzinfo=JST)
    r = c.post(f"{BASE}/notices", headers=op, json=notice("maintenance", one_month - timedelta(seconds=1)))
    assert r.status_code == 422 and r.json()["type"].endswith("/notice-lead-time")
    assert r.json()["title"] == "告知期間が足りません" and "2026-02-15 10:00" in r.json()["detail"]
    assert c.post(f"{BASE}/notices", headers=op, json=notice("maintenance", one_month)).status_code == 201

    three = datetime(2026, 4, 15, 10, 0, tzinfo=JST)
    assert c.post(f"{BASE}/notices", headers=op,
                  json=notice("end_of_service", three - timedelta(minutes=1))).status_code == 422
    assert c.post(f"{BASE}/notices", headers=op, json=notice("end_of_service", three)).status_code == 201

    soon = NOW + timedelta(hours=2)
    assert c.post(f"{BASE}/notices", headers=op, json=notice("maintenance", soon, emergency=True)).status_code == 422
    r = c.post(f"{BASE}/notices", headers=op, json=notice("maintenance", soon, emergency=True,
                                                             emergency_reason="障害対応のため"))
    assert r.status_code == 201 and r.json()["emergency"] is True


def test_users_see_current_notices_only_and_only_operators_publish(service_client, tokens):
    clock = FrozenClock(NOW)
    c = service_client("accounts", clock=clock, accounts_settings=AccountsSettings())
    t, other = open_tenant(c, tokens), open_tenant(c, tokens)
    op = bearer(tokens.operator())
    start = datetime(2026, 3, 1, 1, 0, tzinfo=JST)
    mine = c.post(f"{BASE}/notices", headers=op, json=notice("maintenance", start, title="全体")).json()["id"]
    only_t = c.post(f"{BASE}/notices", headers=op, json={
        "kind": "information", "title": "貴社向け", "body": "…", "tenant_id": t.id,
        "visible_until": (NOW + timedelta(days=3)).isoformat()}).json()["id"]
    by_user = c.post(f"{BASE}/notices", headers=bearer(t.admin_token), json=notice("maintenance", start))
    assert by_user.status_code == 403

    def current(token):
        r = c.get(f"{BASE}/notices/current", headers=bearer(token))
        assert r.status_code == 200
        return {n["id"] for n in r.json()["items"]}

    assert {mine, only_t} <= current(t.admin_token)
    assert mine in current(other.admin_token) and only_t not in current(other.admin_token)
    clock.advance(timedelta(days=4))
    assert only_t not in current(t.admin_token) and mine in current(t.admin_token)
    clock.set(start + timedelta(hours=4, seconds=1))  # the maintenance is over
    assert mine not in current(t.admin_token)
