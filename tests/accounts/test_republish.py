"""POST /operations/republish-grants: a service whose permission read model was lost (database
restored or rebuilt, or a service added after the stream's 30 days) learns every grant again, and a
service that has them keeps them untouched (the same permissions_version is not newer)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from services.accounts import service
from services.accounts.models import ContractTermination, messaging
from shared.event_schemas import EventSchemas
from shared.events import Actor
from tests.accounts.conftest import BASE, OpenTenant, add_jigyosho, add_user, open_tenant, wait_for
from tests.conftest import Tokens, bearer

KOYO = "/api/v1/koyo-hoken/insured-persons"
REPUBLISH = f"{BASE}/operations/republish-grants"


def grant_rows(client: TestClient, tenant_id: str) -> dict[str, dict[str, Any]]:
    """The service's permission_grants rows of the tenant, by user id."""
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    table = rt.permissions.table
    with rt.db.sessions() as s:
        rows = s.execute(select(table).where(table.c.tenant_id == tenant_id)).mappings().all()
        return {r["user_id"]: dict(r) for r in rows}


def forget_grants(client: TestClient, tenant_id: str) -> None:
    """What a rebuilt database looks like: no permission rows of the tenant."""
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with rt.db.transaction() as s:
        s.execute(delete(rt.permissions.table).where(rt.permissions.table.c.tenant_id == tenant_id))


def delete_user(accounts: TestClient, t: OpenTenant, user_id: str) -> None:
    etag = accounts.get(f"{BASE}/users/{user_id}", headers=bearer(t.admin_token)).headers["etag"]
    r = accounts.delete(f"{BASE}/users/{user_id}", headers={**bearer(t.admin_token), "If-Match": etag})
    assert r.status_code == 204, r.text


def tenant_with_three_snapshots(accounts: TestClient, tokens: Tokens) -> tuple[OpenTenant, str, str, str]:
    """Tenant, 事業所, a staff member on it (koyo_hoken read), and a deleted user (a tombstone)."""
    t = open_tenant(accounts, tokens)
    a = add_jigyosho(accounts, t)
    staff, staff_token = add_user(accounts, t, tokens, "staff-k", {"koyo_hoken": "read"}, {"all": False, "ids": [a]})
    gone, _ = add_user(accounts, t, tokens, "staff-gone", {"koyo_hoken": "write"})
    delete_user(accounts, t, gone["id"])
    return t, staff["id"], staff_token, gone["id"]


def test_a_rebuilt_service_regains_grants_and_one_that_has_them_is_unchanged(service_client, tokens):
    accounts = service_client("accounts")
    koyo = service_client("koyo_hoken")
    jimu = service_client("jimukumiai")
    t, staff_id, staff_token, gone_id = tenant_with_three_snapshots(accounts, tokens)
    expected = grant_rows(accounts, t.id)
    assert set(expected) == {t.admin_id, staff_id, gone_id} and expected[gone_id]["status"] == "deleted"

    def same_versions(client: TestClient) -> bool:
        rows = grant_rows(client, t.id)
        return {u: (r["permissions_version"], r["status"]) for u, r in rows.items()} == {
            u: (r["permissions_version"], r["status"]) for u, r in expected.items()}

    wait_for(lambda: same_versions(koyo) and same_versions(jimu))
    assert koyo.get(KOYO, headers=bearer(staff_token)).status_code == 200
    before = grant_rows(jimu, t.id)

    # koyo_hoken's database "rebuilt": the staff member's token holds nothing there.
    forget_grants(koyo, t.id)
    assert koyo.get(KOYO, headers=bearer(staff_token)).status_code == 403

    assert accounts.post(REPUBLISH, headers=bearer(t.admin_token), json={"tenant_id": t.id}).status_code == 403
    r = accounts.post(REPUBLISH, headers=bearer(tokens.operator()), json={"tenant_id": t.id})
    assert r.status_code == 200, r.text
    assert r.json() == {"users": 3, "tenants": 1, "jigyosho": 1}

    wait_for(lambda: koyo.get(KOYO, headers=bearer(staff_token)).status_code == 200)
    wait_for(lambda: same_versions(koyo))
    restored = grant_rows(koyo, t.id)
    for user_id, row in expected.items():
        for column in ("roles", "menus", "jigyosho_all", "jigyosho_ids", "status", "permissions_version"):
            assert restored[user_id][column] == row[column], (user_id, column)

    # jimukumiai had every snapshot: it ignored the repeats. A later change (a new user) marks the
    # point where the republished events were consumed before it (one consumer, stream order).
    marker, _ = add_user(accounts, t, tokens, "staff-marker", {"jimukumiai": "read"})
    wait_for(lambda: marker["id"] in grant_rows(jimu, t.id))
    after = grant_rows(jimu, t.id)
    assert {u: after[u] for u in before} == before  # updated_at included: not rewritten


def test_republish_pages_in_batches_and_skips_tenants_being_purged(service_client, tokens):
    accounts = service_client("accounts")
    t, _, _, gone_id = tenant_with_three_snapshots(accounts, tokens)
    rt = accounts.app.state.runtime
    o = messaging.outbox

    def recorded_since(seq: int) -> list[dict[str, Any]]:
        with rt.db.sessions() as s:
            return [r.payload for r in s.execute(select(o.c.payload).where(o.c.seq > seq).order_by(o.c.seq))
                    if r.payload["tenant_id"] == t.id]

    with rt.db.sessions() as s:
        last = s.execute(select(o.c.seq).order_by(o.c.seq.desc()).limit(1)).scalar_one()
    actor = Actor(kind="operator", id="op-tests")
    assert service.republish_grants(rt.transaction, actor, t.id, batch=1) == (3, 1, 1)
    out = recorded_since(last)
    assert [e["type"] for e in out] == ["roumu.accounts.tenant.settings_changed"] + [
        "roumu.accounts.user.permissions_changed"] * 3 + ["roumu.accounts.jigyosho.updated"]
    schemas = EventSchemas()
    assert all(schemas.errors(e) == [] for e in out)  # the same shape and schema as every change
    expected = grant_rows(accounts, t.id)
    for e in out[1:4]:
        row = expected[e["subject"]["user_id"]]
        assert e["data"]["permissions_version"] == row["permissions_version"]
        assert e["data"]["status"] == row["status"]
    assert [e["subject"]["user_id"] for e in out[1:4]][-1] == gone_id  # tombstones after the users

    # Unknown tenant 404; a stray field 422.
    op = bearer(tokens.operator())
    assert accounts.post(REPUBLISH, headers=op, json={"tenant_id": "00000000-0000-0000-0000-000000000000"}
                         ).status_code == 404
    assert accounts.post(REPUBLISH, headers=op, json={"tenant_id": t.id, "all": True}).status_code == 422

    # Once the tenant's data deletion has started, nothing of it goes out again.
    etag = accounts.get(f"{BASE}/tenants/{t.id}", headers=op).headers["etag"]
    r = accounts.put(f"{BASE}/tenants/{t.id}", headers={**op, "If-Match": etag},
                     json={"name": "テスト社会保険労務士事務所", "kind": "both", "contract_start": "2026-04-01",
                           "contract_end": "2026-06-30"})
    assert r.status_code == 200, r.text
    with rt.db.transaction() as s:
        s.execute(update(ContractTermination).where(ContractTermination.tenant_id == t.id).values(status="purging"))
    r = accounts.post(REPUBLISH, headers=op, json={"tenant_id": t.id})
    assert r.status_code == 200 and r.json() == {"users": 0, "tenants": 0, "jigyosho": 0}


def test_a_jigyosho_read_model_added_later_learns_the_master(service_client, tokens):
    """koyo_hoken's 事業所 read model lost (or added after the 事業所 were created): a staff write
    naming the 事業所 answers 404 until an operator republishes; then the 事業所 is known again,
    closed ones as closed."""
    from tests.koyo_hoken.support import person

    accounts = service_client("accounts")
    koyo = service_client("koyo_hoken")
    t = open_tenant(accounts, tokens)
    a, b = add_jigyosho(accounts, t), add_jigyosho(accounts, t)
    from services.koyo_hoken.models import jigyosho_directory as directory

    rt = koyo.app.state.runtime

    def known(jid: str) -> Any:
        with rt.db.sessions() as s:
            return directory.get(s, t.id, jid)

    wait_for(lambda: known(a) is not None and known(b) is not None)
    etag = accounts.get(f"{BASE}/jigyosho/{b}", headers=bearer(t.admin_token)).headers["etag"]
    closed = accounts.post(f"{BASE}/jigyosho/{b}/close", headers={**bearer(t.admin_token), "If-Match": etag},
                           json={"closed_on": "2026-05-31"})
    assert closed.status_code == 200, closed.text
    wait_for(lambda: known(b) is not None and not known(b).is_open)
    with rt.db.transaction() as s:
        s.execute(delete(directory.table).where(directory.table.c.tenant_id == t.id))
    register = koyo.post(KOYO, headers=bearer(t.admin_token), json=person(a))
    assert register.status_code == 404, register.text

    r = accounts.post(REPUBLISH, headers=bearer(tokens.operator()), json={"tenant_id": t.id})
    assert r.status_code == 200 and r.json()["jigyosho"] == 2, r.text
    wait_for(lambda: known(a) is not None and known(b) is not None)
    assert known(a).is_open and not known(b).is_open
    assert koyo.post(KOYO, headers=bearer(t.admin_token), json=person(a)).status_code == 201
