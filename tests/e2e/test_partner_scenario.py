"""The Partner API end to end, as `make run` runs it: every service, the gateway, NATS and the
e-Gov sandbox as separate processes, reached through the gateway only.

A partner registers a hire with an Idempotency-Key (sent twice), staff file the 資格取得届, the
sandbox completes it, the partner receives exactly one signed webhook (checked with the example
client's verifier) and downloads the 公文書. On the way: the documented 403 (no scope) and 404
(another 事業所) answers, and the rate-limit headers of partner answers."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.e2e.support import (
    efiling_stack,
    grant_my_number_view,
    jigyosho,
    link_egov_account,
    once_known,
    partner_client,
)
from tests.e2e.test_make_run import login
from tests.webhooks.support import ScriptedReceiver, partner_example, wait_for

pytestmark = pytest.mark.slow

HIRE = {"family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ", "given_name_kana": "タロウ",
        "birth_date": "1990-04-01", "hire_date": "2026-04-01", "weekly_hours": "40", "gender": "male",
        "employment_type": "regular", "wage_payment": "monthly", "monthly_wage": 300000, "job_type": "事務",
        "my_number": "123456789018"}


def test_partner_hire_to_official_document(tmp_path: Path) -> None:
    stack, _ = efiling_stack(tmp_path / "var", **{
        "ROUMU_WEBHOOKS_WORKER_INTERVAL_SECONDS": "0.1", "ROUMU_WEBHOOKS_RETRY_BASE_SECONDS": "0.2",
        # The partner's receiver runs on this machine: loopback is let through explicitly (SSRF rule).
        "ROUMU_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.1/32",
    })
    receiver = ScriptedReceiver([503])  # the first delivery fails: retried, still delivered once in effect
    stack.start()
    try:
        with httpx.Client(base_url=stack.url, timeout=30) as c:
            r = login(c)
            assert r.status_code == 200, r.text
            admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
            js_a = jigyosho(c, admin, "株式会社山田製作所", "1301-123456-7")
            js_b = jigyosho(c, admin, "株式会社鈴木商店", "1301-654321-0")

            portal = {"Authorization": "Bearer " + partner_client(
                c, admin, ["employees:write", "filings:read", "webhooks:manage"], [js_a])}
            no_scope = {"Authorization": "Bearer " + partner_client(c, admin, ["filings:read"], [js_a])}

            # The partner registers its webhook receiver for official documents.
            ep = c.post("/api/v1/webhooks/endpoints", headers=portal,
                        json={"url": receiver.url, "event_types": ["official_document.received"]})
            assert ep.status_code == 201, ep.text
            assert ep.headers["ratelimit-policy"].startswith('"partner";q=')
            secret = ep.json()["secret"]

            # A hire with an Idempotency-Key, sent twice: one person.
            key = {"Idempotency-Key": f"hire-{uuid.uuid4()}"}
            first = once_known(lambda: c.post("/api/v1/koyo-hoken/insured-persons", headers={**portal, **key},
                                              json={**HIRE, "jigyosho_id": js_a}))
            assert first.status_code == 201, first.text
            again = c.post("/api/v1/koyo-hoken/insured-persons", headers={**portal, **key},
                           json={**HIRE, "jigyosho_id": js_a})
            assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
            assert again.json()["id"] == first.json()["id"] and "123456789018" not in again.text
            person = first.json()["id"]
            listed = c.get("/api/v1/koyo-hoken/insured-persons", headers=admin, params={"jigyosho_id": js_a})
            assert listed.json()["total"] == 1

            # As documented: no scope → 403; a 事業所 not granted to the client → 404.
            refused = c.post("/api/v1/koyo-hoken/insured-persons", headers=no_scope, json={**HIRE, "jigyosho_id": js_a})
            assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")
            other = once_known(lambda: c.post("/api/v1/koyo-hoken/insured-persons", headers=admin,
                                              json={**HIRE, "jigyosho_id": js_b, "my_number": None}))
            assert other.status_code == 201, other.text
            hidden = c.get(f"/api/v1/koyo-hoken/insured-persons/{other.json()['id']}", headers=portal)
            assert hidden.status_code == 404 and hidden.json()["type"].endswith("/not-found")
            assert c.post("/api/v1/koyo-hoken/insured-persons", headers=portal,
                          json={**HIRE, "jigyosho_id": js_b}).status_code == 404

            # Staff link the office's e-Gov account (OAuth with the sandbox).
            link_egov_account(c, admin)

            # Handing a procedure with a My Number to e-filing discloses it: the administrator grants
            # themself the unmasked view first (issue 18), then logs in again (a grant change may end
            # the user's sessions) and waits until koyo_hoken holds the grant.
            admin = grant_my_number_view(c, admin)

            # Staff file the 資格取得届: procedure, check, ready, hand to e-filing, send.
            pr = c.post("/api/v1/koyo-hoken/procedures", headers=admin, json={
                "insured_person_id": person, "kind": "shikaku_shutoku", "event_date": "2026-04-01",
                "details": {"jigyosho_number": "1301-123456-7", "cause": "2"}})
            assert pr.status_code == 201, pr.text
            pid = pr.json()["id"]
            checked = c.post(f"/api/v1/koyo-hoken/procedures/{pid}/check",
                             headers={**admin, "If-Match": pr.headers["etag"]})
            assert checked.json()["state"] == "checked", checked.text
            assert c.post(f"/api/v1/koyo-hoken/procedures/{pid}/ready",
                          headers={**admin, "If-Match": checked.headers["etag"]}).status_code == 200
            handed = c.post(f"/api/v1/koyo-hoken/procedures/{pid}/efiling", headers=admin,
                            json={"applicant": {"氏名": "社労士 花子", "法人団体名": "花子社会保険労務士事務所"}})
            assert handed.status_code == 200, handed.text
            filing = handed.json()["filing_id"]
            etag = c.get(f"/api/v1/efiling/filings/{filing}", headers=admin).headers["etag"]
            sent = c.post(f"/api/v1/efiling/filings/{filing}/submit", headers={
                **admin, "If-Match": etag, "Idempotency-Key": str(uuid.uuid4())})
            assert sent.status_code == 200, sent.text
            assert sent.json()["filing"]["status"] in ("arrived", "under_review", "reviewed", "completed"), sent.text

            # The sandbox completes it; the 公文書 arrives; the procedure is completed in koyo_hoken.
            def completed() -> bool:
                p = c.get(f"/api/v1/koyo-hoken/procedures/{pid}", headers=admin).json()
                return p["state"] == "completed"

            wait_for(completed, "the procedure to be completed", timeout=90)
            delivered = wait_for(lambda: [x for x in receiver.requests if x.status == 200],
                                 "the webhook", timeout=60)

            # Exactly one event, signed: the failed first attempt and its retry carry the same id.
            assert len(delivered) == 1
            assert {x.headers["Roumu-Webhook-Id"] for x in receiver.requests} == {
                delivered[0].headers["Roumu-Webhook-Id"]}
            example = partner_example()
            assert example.verify_signature(secret, delivered[0].headers, delivered[0].body)
            assert not example.verify_signature(secret, delivered[0].headers, delivered[0].body + b" ")
            event = json.loads(delivered[0].body)
            assert event["type"] == "official_document.received" and event["subject"]["filing_id"] == filing
            log = c.get(f"/api/v1/webhooks/endpoints/{ep.json()['id']}/deliveries", headers=portal).json()
            assert log["total"] == 1 and log["items"][0]["status"] == "succeeded"

            # The partner downloads the 公文書 (a ZIP) with its filings:read scope.
            doc = c.get(event["links"]["document"], headers=portal)
            assert doc.status_code == 200, doc.text
            assert zipfile.ZipFile(io.BytesIO(doc.content)).namelist()
            # Nothing more arrives for this endpoint (one event type, one filing).
            time.sleep(0.5)  # a chance for a stray duplicate to show; not a timing assertion
            assert len([x for x in receiver.requests if x.status == 200]) == 1
    finally:
        receiver.stop()
        assert stack.stop() == 0
