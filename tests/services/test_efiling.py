"""efiling skeleton: draft, read, tenant isolation, validation errors, and retries that never file twice."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, func, select, text

from services.efiling import repository, service
from services.efiling.models import Filing
from services.efiling.schemas import FilingCreate
from shared.crypto import load_data_keys
from shared.db import Database
from shared.events import SYSTEM
from tests.conftest import bearer
from tests.services.support import assert_matches_contract, outbox_payloads

BASE = "/api/v1/efiling"


def filing(**over):
    body = {"jigyosho_id": "js-1", "procedure_code": "950A010002012000", "title": "雇用保険被保険者資格取得届"}
    return {**body, **over}


def count_filings(settings, tenant_id):
    engine = create_engine(settings.database_url("efiling"))
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Filing).where(Filing.tenant_id == tenant_id)).scalar()
    finally:
        engine.dispose()


def count_events(settings, tenant_id):
    engine = create_engine(settings.database_url("efiling"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT payload FROM outbox")).scalars().all()
    finally:
        engine.dispose()
    return sum(1 for r in rows if (r if isinstance(r, dict) else json.loads(r))["tenant_id"] == tenant_id)


def test_draft_then_get_and_event(service_client, tokens, settings):
    c = service_client("efiling")
    tenant = str(uuid.uuid4())
    r = c.post(f"{BASE}/filings", headers=bearer(tokens.user(tenant)), json=filing())
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "draft" and created["version"] == 1
    assert "idempotency_key" not in created

    r = c.get(f"{BASE}/filings/{created['id']}", headers=bearer(tokens.user(tenant)))
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json() == created

    [event] = outbox_payloads(settings, "efiling", created["id"])
    assert event["type"] == "roumu.efiling.filing.drafted"
    assert_matches_contract(event)


def test_other_tenant_gets_404(service_client, tokens):
    c = service_client("efiling")
    r = c.post(f"{BASE}/filings", headers=bearer(tokens.user(str(uuid.uuid4()))), json=filing())
    r = c.get(f"{BASE}/filings/{r.json()['id']}", headers=bearer(tokens.user(str(uuid.uuid4()))))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_validation_error_is_problem_json_with_fields(service_client, tokens):
    c = service_client("efiling")
    headers = bearer(tokens.user(str(uuid.uuid4())))
    r = c.post(f"{BASE}/filings", headers=headers, json=filing(procedure_code="950A", title=""))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == "入力内容に誤りがあります"
    assert {e["field"] for e in body["errors"]} == {"body.procedure_code", "body.title"}
    r = c.post(f"{BASE}/filings", headers={**headers, "Idempotency-Key": "x" * 101}, json=filing())
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["header.Idempotency-Key"]


def test_retry_with_same_key_returns_same_filing_and_no_second_row_or_event(service_client, tokens, settings):
    c = service_client("efiling")
    tenant = str(uuid.uuid4())
    headers = {**bearer(tokens.user(tenant)), "Idempotency-Key": "retry-1"}
    first = c.post(f"{BASE}/filings", headers=headers, json=filing())
    assert first.status_code == 201
    again = c.post(f"{BASE}/filings", headers=headers, json=filing())
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert count_filings(settings, tenant) == 1
    assert count_events(settings, tenant) == 1

    # The key is the tenant's own: another tenant using the same key gets its own filing.
    other = {**bearer(tokens.user(str(uuid.uuid4()))), "Idempotency-Key": "retry-1"}
    r = c.post(f"{BASE}/filings", headers=other, json=filing())
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]

    # Without a key, each request is a new filing.
    plain = bearer(tokens.user(tenant))
    assert c.post(f"{BASE}/filings", headers=plain, json=filing()).status_code == 201
    assert c.post(f"{BASE}/filings", headers=plain, json=filing()).status_code == 201
    assert count_filings(settings, tenant) == 3


def test_same_key_with_another_body_is_refused(service_client, tokens, settings):
    c = service_client("efiling")
    tenant = str(uuid.uuid4())
    headers = {**bearer(tokens.user(tenant)), "Idempotency-Key": "retry-2"}
    assert c.post(f"{BASE}/filings", headers=headers, json=filing()).status_code == 201
    r = c.post(f"{BASE}/filings", headers=headers, json=filing(title="別の申請"))
    assert r.status_code == 422
    assert r.json()["type"].endswith("/idempotency-key-reused")
    assert count_filings(settings, tenant) == 1


def test_concurrent_retries_create_one_filing(service_client, tokens, settings):
    """Retries racing each other (a client timing out and resending) still make one filing."""
    c = service_client("efiling")
    tenant = str(uuid.uuid4())
    headers = {**bearer(tokens.user(tenant)), "Idempotency-Key": "race-1"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: c.post(f"{BASE}/filings", headers=headers, json=filing()), range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert count_filings(settings, tenant) == 1
    assert count_events(settings, tenant) == 1


def test_losing_the_insert_race_returns_the_winner(service_client, tokens, settings, monkeypatch):
    """The path a concurrent retry takes: its lookup saw nothing, then its insert hit the unique key."""
    c = service_client("efiling")
    tenant = str(uuid.uuid4())
    headers = {**bearer(tokens.user(tenant)), "Idempotency-Key": "race-2"}
    winner = c.post(f"{BASE}/filings", headers=headers, json=filing()).json()

    real_lookup = repository.filing_by_idempotency_key
    calls = []

    def late_lookup(session, tenant_id, key):
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(session, tenant_id, key)

    monkeypatch.setattr(repository, "filing_by_idempotency_key", late_lookup)
    db = Database(settings.database_url("efiling"))
    try:
        with db.transaction() as session:
            # The same data keys as the running app: the retry's fingerprint must match the first one.
            got, created = service.draft_filing(session, tenant, FilingCreate(**filing()), SYSTEM, "race-2",
                                                fingerprint_keys=load_data_keys(settings.keys_dir))
            assert (got.id, created) == (winner["id"], False)
    finally:
        db.dispose()
    assert len(calls) == 2
    assert count_filings(settings, tenant) == 1 and count_events(settings, tenant) == 1
