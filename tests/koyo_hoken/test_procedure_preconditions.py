"""check and ready change a versioned procedure: If-Match as for every edit (428 without, 412 when
stale), as the contract lists (issue 29 item 13)."""

from __future__ import annotations

from tests.conftest import bearer
from tests.koyo_hoken.support import BASE, frozen, person, tenant


def test_check_and_ready_need_a_current_if_match(service_client, tokens):
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    h = bearer(tokens.user(tenant()))
    p = c.post(f"{BASE}/insured-persons", headers=h, json=person(hire_date="2026-04-01")).json()
    pr = c.post(f"{BASE}/procedures", headers=h, json={
        "insured_person_id": p["id"], "kind": "shikaku_shutoku", "event_date": "2026-04-01",
        "details": {"jigyosho_number": "1301-123456-7", "cause": "2"}})
    assert pr.status_code == 201, pr.text
    path = f"{BASE}/procedures/{pr.json()['id']}"
    for step in ("check", "ready"):
        current = c.get(path, headers=h).headers["etag"]
        missing = c.post(f"{path}/{step}", headers=h)
        assert missing.status_code == 428 and missing.json()["type"].endswith("/precondition-required"), missing.text
        stale = c.post(f"{path}/{step}", headers={**h, "If-Match": '"999"'})
        assert stale.status_code == 412 and stale.json()["type"].endswith("/precondition-failed"), stale.text
        done = c.post(f"{path}/{step}", headers={**h, "If-Match": current})
        assert done.status_code == 200, done.text
        assert done.headers["etag"] != current
        assert c.post(f"{path}/{step}", headers={**h, "If-Match": current}).status_code == 412  # a resend
    assert c.get(path, headers=h).json()["state"] == "ready"
