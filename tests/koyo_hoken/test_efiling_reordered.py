"""e-filing's events about one filing arriving out of order (found by the fault run,
tests/security/test_faults.py): a message unacked when koyo_hoken or NATS went away comes back
after ack_wait, behind later ones. The procedure must still end `completed`, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.koyo_hoken import service
from shared.events import Actor, EventEnvelope
from tests.conftest import bearer
from tests.koyo_hoken.support import BASE, MY_NUMBER, frozen, person, tenant
from tests.services.support import outbox_payloads


def _event(rt, tenant_id, etype, procedure_id, filing_id, occurred_at=None, **data):
    at = {"occurred_at": occurred_at} if occurred_at else {}
    ev = EventEnvelope(type=etype, tenant_id=tenant_id, actor=Actor(kind="service", id="efiling"),
                       subject={"filing_id": filing_id, "tenant_id": tenant_id, "idempotency_key": procedure_id},
                       data=data, **at)
    with rt.transaction() as session:
        service.on_efiling_event(session, ev)


def ready_procedure(service_client, tokens, my_number: str | None = MY_NUMBER):
    """A 資格取得届 of a new tenant, checked and ready to send: (client, tenant, headers, procedure)."""
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    tid = tenant()
    h = bearer(tokens.user(tid))
    p = c.post(f"{BASE}/insured-persons", headers=h, json=person(hire_date="2026-04-01", my_number=my_number))
    assert p.status_code == 201, p.text
    pr = c.post(f"{BASE}/procedures", headers=h, json={
        "insured_person_id": p.json()["id"], "kind": "shikaku_shutoku", "event_date": "2026-04-01",
        "details": {"jigyosho_number": "1301-123456-7", "cause": "2"}}).json()
    checked = c.post(f"{BASE}/procedures/{pr['id']}/check", headers={**h, "If-Match": f'"{pr["version"]}"'})
    assert checked.json()["state"] == "checked", checked.text
    ready = c.post(f"{BASE}/procedures/{pr['id']}/ready", headers={**h, "If-Match": checked.headers["etag"]})
    assert ready.json()["state"] == "ready", ready.text
    return c, tid, h, pr


def test_completion_before_the_late_submitted_event_still_completes(service_client, tokens, settings):
    c, tid, h, pr = ready_procedure(service_client, tokens)

    rt = c.app.state.runtime
    # The order the fault run saw: status changes and the 公文書 first, submitted/arrived 30 s later.
    _event(rt, tid, "roumu.efiling.filing.status_changed", pr["id"], "f-1", status="審査中")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["state"] == "accepted"
    _event(rt, tid, "roumu.efiling.filing.official_document_received", pr["id"], "f-1")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["state"] == "completed"
    _event(rt, tid, "roumu.efiling.filing.submitted", pr["id"], "f-1")
    _event(rt, tid, "roumu.efiling.filing.arrived", pr["id"], "f-1", egov_status="到達")
    got = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()
    assert got["state"] == "completed" and got["filing_id"] == "f-1"

    types = [e["type"] for e in outbox_payloads(settings, "koyo_hoken", pr["id"])]
    assert types.count("roumu.koyo_hoken.procedure.submitted") == 1
    assert types.count("roumu.koyo_hoken.procedure.completed") == 1


def test_a_withdrawal_of_a_ready_procedure_is_not_taken_for_a_send(service_client, tokens, settings):
    c, tid, h, pr = ready_procedure(service_client, tokens)
    _event(c.app.state.runtime, tid, "roumu.efiling.filing.withdrawn", pr["id"], "f-2")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["state"] == "withdrawn"
    types = [e["type"] for e in outbox_payloads(settings, "koyo_hoken", pr["id"])]
    assert "roumu.koyo_hoken.procedure.submitted" not in types


def test_status_changed_as_efiling_publishes_it_moves_the_procedure(service_client, tokens, settings):
    """e-filing's status_changed carries its own state in `status` and e-Gov's text in
    `egov_status` (its contract). 手続終了 alone completes the procedure, even when the 公文書 event
    never comes (the fault run saw the download fail after the case completed)."""
    c, tid, h, pr = ready_procedure(service_client, tokens)
    rt = c.app.state.runtime
    _event(rt, tid, "roumu.efiling.filing.submitted", pr["id"], "f-3")
    _event(rt, tid, "roumu.efiling.filing.status_changed", pr["id"], "f-3", procedure_code="4950008680033000",
           status="under_review", arrive_id="3015716201718892", egov_status="審査中", previous_status="arrived")
    got = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()
    assert got["state"] == "accepted" and got["filing_status"] == "審査中"
    _event(rt, tid, "roumu.efiling.filing.status_changed", pr["id"], "f-3", procedure_code="4950008680033000",
           status="completed", arrive_id="3015716201718892", egov_status="手続終了", previous_status="under_review")
    got = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()
    assert got["state"] == "completed" and got["filing_status"] == "手続終了"
    types = [e["type"] for e in outbox_payloads(settings, "koyo_hoken", pr["id"])]
    assert types.count("roumu.koyo_hoken.procedure.completed") == 1


def test_a_late_older_status_event_does_not_set_the_shown_status_back(service_client, tokens, settings):
    """The displayed e-Gov text follows the newest event, not the last one to arrive: a status_changed
    redelivered after ack_wait, behind 手続終了, leaves 手続終了 shown."""
    c, tid, h, pr = ready_procedure(service_client, tokens)
    rt = c.app.state.runtime
    t0 = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
    _event(rt, tid, "roumu.efiling.filing.submitted", pr["id"], "f-4", occurred_at=t0)
    _event(rt, tid, "roumu.efiling.filing.status_changed", pr["id"], "f-4", occurred_at=t0 + timedelta(hours=2),
           status="completed", egov_status="手続終了", previous_status="under_review")
    # Observed an hour earlier, delivered last.
    _event(rt, tid, "roumu.efiling.filing.status_changed", pr["id"], "f-4", occurred_at=t0 + timedelta(hours=1),
           status="under_review", egov_status="審査中", previous_status="arrived")
    got = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()
    assert got["state"] == "completed" and got["filing_status"] == "手続終了"
    # A newer one still replaces it.
    _event(rt, tid, "roumu.efiling.filing.status_changed", pr["id"], "f-4", occurred_at=t0 + timedelta(hours=3),
           egov_status="手続終了（公文書あり）")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["filing_status"] == "手続終了（公文書あり）"
