"""koyo_hoken as partner systems call it: scopes, the 事業所 the tenant granted the client, another
tenant, idempotency keys on the hire, and the write-only My Number intake."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from services.koyo_hoken.models import InsuredPerson, idempotency
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from tests.conftest import bearer
from tests.koyo_hoken.support import BASE, MY_NUMBER, person, tenant
from tests.services.support import outbox_payloads


def partner(tokens: Any, tenant_id: str, scopes: str, jigyosho_ids: list[str] | None = None) -> dict[str, str]:
    claims: dict[str, Any] = {"sub": f"pc_{uuid.uuid4().hex[:12]}", "tid": tenant_id, "typ": "partner",
                              "scope": scopes, "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}
    if jigyosho_ids is not None:
        claims["jigyosho_ids"] = jigyosho_ids
    return bearer(tokens.access.sign(claims, 300))


def test_a_hire_with_an_idempotency_key_is_registered_once(service_client, tokens, settings):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = {**partner(tokens, tid, "employees:write"), "Idempotency-Key": f"hire-{uuid.uuid4()}"}
    first = c.post(f"{BASE}/insured-persons", headers=h, json=person(my_number=MY_NUMBER))
    assert first.status_code == 201, first.text
    assert MY_NUMBER not in first.text
    again = c.post(f"{BASE}/insured-persons", headers=h, json=dict(reversed(list(person(my_number=MY_NUMBER)
                                                                                      .items()))))
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    other = c.post(f"{BASE}/insured-persons", headers=h, json=person(given_name="次郎"))
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    listed = c.get(f"{BASE}/insured-persons", headers=partner(tokens, tid, "employees:read"))
    assert listed.json()["total"] == 1
    registered = [e for e in outbox_payloads(settings, "koyo_hoken", first.json()["id"])
                  if e["type"] == "roumu.koyo_hoken.insured_person.registered"]
    assert len(registered) == 1 and registered[0]["actor"]["kind"] == "partner"
    # Another caller's key space is its own: the same key from another client runs its request.
    other_client = {**partner(tokens, tid, "employees:write"), "Idempotency-Key": h["Idempotency-Key"]}
    assert c.post(f"{BASE}/insured-persons", headers=other_client,
                  json=person(given_name="三郎")).status_code == 201


def test_scope_tenant_and_jigyosho_of_a_partner_token(service_client, tokens):
    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    in_b = c.post(f"{BASE}/insured-persons", headers=admin, json=person("js-b")).json()["id"]
    in_a = c.post(f"{BASE}/insured-persons", headers=admin, json=person("js-a")).json()["id"]

    no_scope = c.post(f"{BASE}/insured-persons", headers=partner(tokens, tid, "filings:read"), json=person("js-a"))
    assert no_scope.status_code == 403 and no_scope.json()["menu"] == "koyo_hoken"
    read_only = c.post(f"{BASE}/insured-persons", headers=partner(tokens, tid, "employees:read"), json=person())
    assert read_only.status_code == 403

    only_a = partner(tokens, tid, "employees:write", ["js-a"])
    assert c.get(f"{BASE}/insured-persons/{in_a}", headers=only_a).status_code == 200
    assert c.get(f"{BASE}/insured-persons/{in_b}", headers=only_a).status_code == 404
    assert c.post(f"{BASE}/insured-persons", headers=only_a, json=person("js-b")).status_code == 404
    assert [p["id"] for p in c.get(f"{BASE}/insured-persons", headers=only_a).json()["items"]] == [in_a]

    elsewhere = partner(tokens, tenant(), "employees:write")
    assert c.get(f"{BASE}/insured-persons/{in_a}", headers=elsewhere).status_code == 404


def test_my_number_intake_is_write_only_and_never_echoed(service_client, tokens):
    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    pid = c.post(f"{BASE}/insured-persons", headers=admin, json=person()).json()["id"]
    box = {**partner(tokens, tid, "mynumber:write"), "Idempotency-Key": "mn-1"}
    r = c.post(f"{BASE}/insured-persons/{pid}/my-number-intake", headers=box, json={"my_number": MY_NUMBER})
    assert r.status_code == 202, r.text
    assert r.json()["my_number_registered"] is True and MY_NUMBER not in r.text and "1234" not in r.text[-40:]
    assert "my_number_masked" not in r.json()
    replay = c.post(f"{BASE}/insured-persons/{pid}/my-number-intake", headers=box, json={"my_number": MY_NUMBER})
    assert replay.status_code == 202 and replay.headers["idempotent-replayed"] == "true"
    # Write-only: the collection partner reads nothing, not even the person it wrote to.
    assert c.get(f"{BASE}/insured-persons/{pid}", headers=box).status_code == 403
    assert c.get(f"{BASE}/insured-persons/{pid}/my-number", headers=box).status_code == 403
    bad = c.post(f"{BASE}/insured-persons/{pid}/my-number-intake", headers=partner(tokens, tid, "mynumber:write"),
                 json={"my_number": "123456789010"})
    assert bad.status_code == 422 and "123456789010" not in bad.text
    rt = c.app.state.runtime
    with rt.db.sessions() as s:
        row = s.execute(select(InsuredPerson).where(InsuredPerson.id == pid)).scalar_one()
        assert row.my_number_sealed and MY_NUMBER not in row.my_number_sealed
        stored = s.execute(select(idempotency.table)).mappings().all()
        assert all(MY_NUMBER not in str(dict(x)) for x in stored)
    assert c.get(f"{BASE}/insured-persons/{pid}", headers=admin).json()["my_number_masked"].endswith("9018")


def test_a_partner_syncs_persons_by_updated_since_and_follows_next(service_client, tokens):
    """Issue #28: offset pages had no sort, no updated_since and no next link, so a partner re-read
    everything to find a change."""
    from datetime import UTC, datetime

    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    ids = [c.post(f"{BASE}/insured-persons", headers=admin, json=person(given_name=n)).json()["id"]
           for n in ("一郎", "二郎", "三郎")]
    reader = partner(tokens, tid, "employees:read")
    first = c.get(f"{BASE}/insured-persons", headers=reader, params={"limit": 2}).json()
    assert [p["id"] for p in first["items"]] == ids[:2] and first["next"].endswith("limit=2&offset=2")
    last = c.get(first["next"], headers=reader).json()
    assert [p["id"] for p in last["items"]] == ids[2:] and last["next"] is None

    since = datetime.now(UTC).isoformat()
    current = c.get(f"{BASE}/insured-persons/{ids[0]}", headers=admin)
    changed = c.patch(f"{BASE}/insured-persons/{ids[0]}", headers={**admin, "If-Match": current.headers["etag"]},
                      json={"weekly_hours": "30"})
    assert changed.status_code == 200, changed.text
    synced = c.get(f"{BASE}/insured-persons", headers=reader,
                   params={"sort": "updated_at", "updated_since": since}).json()
    assert [p["id"] for p in synced["items"]] == [ids[0]] and synced["next"] is None
    newest_first = c.get(f"{BASE}/insured-persons", headers=reader, params={"sort": "-updated_at"}).json()
    assert newest_first["items"][0]["id"] == ids[0]
    procedures = c.get(f"{BASE}/procedures", headers=reader, params={"sort": "-created_at", "limit": 1}).json()
    assert procedures["next"] == (None if procedures["total"] <= 1 else
                                  "/api/v1/koyo-hoken/procedures?sort=-created_at&limit=1&offset=1")
    naive = c.get(f"{BASE}/insured-persons", headers=reader, params={"updated_since": "2026-04-01T00:00:00"})
    assert naive.status_code == 422 and naive.headers["content-type"] == "application/problem+json"
    unknown = c.get(f"{BASE}/insured-persons", headers=reader, params={"sort": "name"})
    assert unknown.status_code == 422


def test_a_partner_creates_a_procedure_once_with_an_idempotency_key(service_client, tokens):
    """Issue #28: no partner operation created a procedure, and POST /procedures took no key."""
    c = service_client("koyo_hoken")
    tid = tenant()
    writer = partner(tokens, tid, "employees:write employees:read")
    hired = c.post(f"{BASE}/insured-persons", headers=writer, json=person()).json()
    h = {**writer, "Idempotency-Key": f"shutoku-{uuid.uuid4()}"}
    body = {"insured_person_id": hired["id"], "kind": "shikaku_shutoku", "event_date": hired["hire_date"]}
    first = c.post(f"{BASE}/procedures", headers=h, json=body)
    assert first.status_code == 201, first.text
    assert first.headers["location"].endswith(first.json()["id"]) and first.headers["etag"] == '"1"'
    again = c.post(f"{BASE}/procedures", headers=h, json=body)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    listed = c.get(f"{BASE}/procedures", headers=writer, params={"insured_person_id": hired["id"]}).json()
    assert listed["total"] == 1
    reader = partner(tokens, tid, "employees:read")
    assert c.post(f"{BASE}/procedures", headers=reader, json=body).status_code == 403
