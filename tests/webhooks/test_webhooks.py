"""The webhooks service with real NATS and real receivers on 127.0.0.1: signed deliveries, retries
until the receiver recovers, order per subject, 事業所 and owner isolation, the delivery log,
disabling after persistent failure with a notice, manual redelivery, and secret rotation with an
overlap."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.webhooks.rules import backoff, signing
from services.webhooks.settings import WebhooksSettings
from shared.events import Actor, EventEnvelope
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from tests.conftest import bearer
from tests.services.support import outbox_payloads
from tests.webhooks.support import ScriptedReceiver, partner_example, publish, wait_for

BASE = "/api/v1/webhooks"
EFILING = Actor(kind="service", id="efiling")


def fast(**over: Any) -> WebhooksSettings:
    base: dict[str, Any] = {"retry_base_seconds": 0.05, "retry_max_seconds": 0.2, "worker_interval_seconds": 0.05,
                            "allow_http": True, "timeout_seconds": 5,
                            "allowed_networks": ["127.0.0.1/32"]}  # the tests' receivers
    return WebhooksSettings(**{**base, **over})


def partner(tokens: Any, tenant_id: str, scopes: str = "webhooks:manage",
            jigyosho_ids: list[str] | None = None, client: str | None = None) -> dict[str, str]:
    claims: dict[str, Any] = {"sub": client or f"pc_{uuid.uuid4().hex[:12]}", "tid": tenant_id, "typ": "partner",
                              "scope": scopes, "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}
    if jigyosho_ids is not None:
        claims["jigyosho_ids"] = jigyosho_ids
    return bearer(tokens.access.sign(claims, 300))


def document_received(tenant_id: str, jigyosho_id: str = "js-a", filing_id: str | None = None) -> EventEnvelope:
    return EventEnvelope(type="roumu.efiling.filing.official_document_received", tenant_id=tenant_id, actor=EFILING,
                         subject={"filing_id": filing_id or str(uuid.uuid4()), "tenant_id": tenant_id,
                                  "jigyosho_id": jigyosho_id},
                         data={"procedure_code": "4950008680033000", "status": "completed",
                               "arrive_id": "1234567890123456", "notice_sub_id": 1,
                               "document_id": str(uuid.uuid4()), "signature_valid": True})


def correction(tenant_id: str, filing_id: str, jigyosho_id: str = "js-a") -> EventEnvelope:
    return EventEnvelope(type="roumu.efiling.filing.correction_requested", tenant_id=tenant_id, actor=EFILING,
                         subject={"filing_id": filing_id, "tenant_id": tenant_id, "jigyosho_id": jigyosho_id},
                         data={"procedure_code": "4950008680033000", "status": "correction_requested",
                               "arrive_id": "1234567890123456", "notice_sub_id": 1, "correct_type": None,
                               "correction_deadline": None})


def register(c: Any, headers: dict[str, str], url: str, types: list[str]) -> dict[str, Any]:
    r = c.post(f"{BASE}/endpoints", headers=headers, json={"url": url, "event_types": types})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def receivers():
    made: list[ScriptedReceiver] = []

    def make(script: list[int] | None = None, then: int = 200) -> ScriptedReceiver:
        r = ScriptedReceiver(script, then)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def test_a_failing_endpoint_receives_the_event_once_it_recovers(service_client, tokens, settings, receivers):
    c = service_client("webhooks", webhooks_settings=fast())
    tid = str(uuid.uuid4())
    receiver = receivers([500, 503, 500])
    ep = register(c, partner(tokens, tid), receiver.url, ["official_document.received"])
    assert ep["secret"].startswith("whsec_") and ep["status"] == "active"
    event = document_received(tid)
    publish(settings, event)

    wait_for(lambda: len(receiver.requests) >= 4, "the fourth attempt")
    statuses = [r.status for r in receiver.requests]
    assert statuses[:4] == [500, 503, 500, 200]
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # the same event each time
    payload = json.loads(receiver.requests[-1].body)
    assert payload["id"] == event.id and payload["type"] == "official_document.received"
    assert payload["links"]["document"].endswith(f"/documents/{event.data['document_id']}")
    example = partner_example()
    for r in receiver.requests:
        assert r.headers["Roumu-Webhook-Id"] == event.id
        assert example.verify_signature(ep["secret"], r.headers, r.body)
    # Forged: another secret, a changed body, a replayed old timestamp — all detected.
    last = receiver.requests[-1]
    assert not example.verify_signature("whsec_forged", last.headers, last.body)
    assert not example.verify_signature(ep["secret"], last.headers, last.body.replace(b"completed", b"rejected"))
    old = int(last.headers["Roumu-Webhook-Timestamp"]) - 3600
    replayed = {**last.headers, "Roumu-Webhook-Timestamp": str(old),
                "Roumu-Webhook-Signature": signing.signature(ep["secret"], old, last.body)}
    assert not example.verify_signature(ep["secret"], replayed, last.body)
    assert example.verify_signature(ep["secret"], replayed, last.body, now=old + 10)

    h = partner(tokens, tid, client=None)
    # The delivery log (the owner sees it; another client of the same tenant does not).
    log = wait_for(lambda: [d for d in c.get(f"{BASE}/endpoints/{ep['id']}/deliveries",
                                             headers=_owner(tokens, tid, c, ep)).json()["items"]
                            if d["status"] == "succeeded"], "the succeeded delivery")
    assert c.get(f"{BASE}/endpoints/{ep['id']}/deliveries", headers=h).status_code == 404
    detail = c.get(f"{BASE}/deliveries/{log[0]['id']}", headers=_owner(tokens, tid, c, ep)).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503, 500, 200]
    assert detail["attempts"] == 4


def _owner(tokens: Any, tid: str, c: Any, ep: dict[str, Any]) -> dict[str, str]:
    """A tenant administrator sees every endpoint of the tenant."""
    return bearer(tokens.user(tid, roles=("tenant_admin",)))


def test_order_per_subject_jigyosho_and_owner_isolation(service_client, tokens, settings, receivers):
    c = service_client("webhooks", webhooks_settings=fast())
    tid = str(uuid.uuid4())
    receiver = receivers([500, 500])  # the first event fails twice: the second must wait for it
    client_a = partner(tokens, tid, jigyosho_ids=["js-a"], client="pc_only_a")
    ep = register(c, client_a, receiver.url, ["correction.requested", "official_document.received"])
    assert ep["jigyosho_ids"] == ["js-a"]
    filing = str(uuid.uuid4())
    first, second = correction(tid, filing), document_received(tid, filing_id=filing)
    elsewhere = document_received(tid, jigyosho_id="js-b")
    other_tenant = document_received(str(uuid.uuid4()))
    publish(settings, elsewhere, other_tenant, first, second)

    wait_for(lambda: [r for r in receiver.requests if r.status == 200 and
                      json.loads(r.body)["id"] == second.id], "the second event")
    ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert ids == [first.id, first.id, first.id, second.id]
    assert elsewhere.id not in ids and other_tenant.id not in ids

    # Scope, owner, tenant: documented answers.
    assert c.get(f"{BASE}/endpoints", headers=partner(tokens, tid, "employees:read")).status_code == 403
    assert c.get(f"{BASE}/endpoints", headers=bearer(tokens.user(tid))).status_code == 403  # staff
    other_client = partner(tokens, tid)
    assert c.get(f"{BASE}/endpoints/{ep['id']}", headers=other_client).status_code == 404
    assert c.get(f"{BASE}/endpoints", headers=other_client).json()["total"] == 0
    assert c.get(f"{BASE}/endpoints/{ep['id']}", headers=partner(tokens, str(uuid.uuid4()))).status_code == 404
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    assert c.get(f"{BASE}/endpoints/{ep['id']}", headers=admin).status_code == 200
    bad = c.post(f"{BASE}/endpoints", headers=client_a, json={"url": "ftp://x.example/", "event_types": ["nope"]})
    assert bad.status_code == 422


def test_persistent_failure_disables_with_a_notice_then_redelivery_and_rotation(service_client, tokens, settings,
                                                                                receivers):
    c = service_client("webhooks", webhooks_settings=fast(retry_for_hours=0.0002))  # 0.72 s of retries
    tid = str(uuid.uuid4())
    receiver = receivers(then=500)
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    ep = register(c, admin, receiver.url, ["official_document.received"])
    event = document_received(tid)
    publish(settings, event)

    disabled = wait_for(lambda: (lambda e: e if e["status"] == "disabled" else None)(
        c.get(f"{BASE}/endpoints/{ep['id']}", headers=admin).json()), "the endpoint to be disabled")
    assert disabled["disabled_reason"] == "persistent_failure"
    notices = [e for e in outbox_payloads(settings, "webhooks", ep["id"])
               if e["type"] == "roumu.webhooks.endpoint.disabled"]
    assert len(notices) == 1 and notices[0]["data"]["reason"] == "persistent_failure"
    delivery = c.get(f"{BASE}/endpoints/{ep['id']}/deliveries", headers=admin).json()["items"][0]
    assert delivery["status"] == "failed" and delivery["attempts"] >= 2
    tried = len(receiver.requests)

    # Redelivery of a disabled endpoint is refused until it is resumed.
    assert c.post(f"{BASE}/deliveries/{delivery['id']}/redeliver", headers=admin).status_code == 409
    etag = c.get(f"{BASE}/endpoints/{ep['id']}", headers=admin).headers["etag"]
    resumed = c.patch(f"{BASE}/endpoints/{ep['id']}", headers={**admin, "If-Match": etag}, json={"status": "active"})
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    # Rotate with an overlap: the next delivery carries both signatures.
    rotated = c.post(f"{BASE}/endpoints/{ep['id']}/secret", headers=admin, json={"overlap_hours": 1})
    assert rotated.status_code == 200 and rotated.json()["secret"] != ep["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    receiver.then = 200
    again = c.post(f"{BASE}/deliveries/{delivery['id']}/redeliver", headers=admin)
    assert again.status_code == 202 and again.json()["status"] == "pending"
    wait_for(lambda: any(r.status == 200 for r in receiver.requests[tried:]), "the redelivery")
    last = [r for r in receiver.requests if r.status == 200][-1]
    example = partner_example()
    assert example.verify_signature(ep["secret"], last.headers, last.body)
    assert example.verify_signature(rotated.json()["secret"], last.headers, last.body)
    assert last.headers["Roumu-Webhook-Signature"].count("v1=") == 2
    assert json.loads(last.body)["id"] == event.id
    assert "whsec_" not in json.dumps(outbox_payloads(settings, "webhooks", ep["id"]))


def test_idempotent_registration_keeps_the_secret_sealed(service_client, tokens):
    c = service_client("webhooks", webhooks_settings=fast(worker_enabled=False))
    tid = str(uuid.uuid4())
    h = {**partner(tokens, tid, client="pc_idem"), "Idempotency-Key": "ep-1"}
    body = {"url": "https://partner.example/hook", "event_types": ["procedure.completed"]}
    first = c.post(f"{BASE}/endpoints", headers=h, json=body)
    again = c.post(f"{BASE}/endpoints", headers=h, json=body)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert c.post(f"{BASE}/endpoints", headers=h, json={**body, "url": "https://other.example/"}).status_code == 422
    from services.webhooks.models import idempotency

    with c.app.state.runtime.db.sessions() as s:
        rows = s.execute(idempotency.table.select()).mappings().all()
    assert rows and all(first.json()["secret"] not in str(dict(r)) for r in rows)
    assert c.post(f"{BASE}/endpoints", headers={**partner(tokens, tid), "Idempotency-Key": "ep-2"},
                  json={"url": "http://plain.example/", "event_types": ["procedure.completed"]}).status_code == 201


def test_retries_last_at_least_a_day_by_default():
    cfg = WebhooksSettings()
    waits = backoff.schedule(cfg.retry_base_seconds, cfg.retry_max_seconds, timedelta(hours=cfg.retry_for_hours))
    assert sum(waits) >= 24 * 3600
    assert waits[:4] == [30.0, 60.0, 120.0, 240.0] and max(waits) == cfg.retry_max_seconds
    assert signing.verify("s", signing.signature("s", 1000, b"x"), "1000", b"x", now=1100)
    assert not signing.verify("s", signing.signature("s", 1000, b"x"), "1000", b"x", now=1000 + 301)
