"""Secret rotation keeps every earlier secret signing until its own overlap ends (issue 29 item 13:
a third rotation dropped the first secret at once), and overlap 0 ends them all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.webhooks import service
from services.webhooks.models import Endpoint
from shared.clock import FrozenClock
from tests.conftest import bearer
from tests.webhooks.test_webhooks import BASE, fast


def test_each_earlier_secret_signs_until_its_own_overlap_ends(service_client, tokens):
    clock = FrozenClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    c = service_client("webhooks", webhooks_settings=fast(worker_enabled=False), clock=clock)
    tid = str(uuid.uuid4())
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    ep = c.post(f"{BASE}/endpoints", headers=admin,
                json={"url": "https://partner.example/hook", "event_types": ["procedure.completed"]}).json()
    secrets = [ep["secret"]]
    for hours in (24, 24, 24):
        clock.advance(timedelta(hours=1))
        r = c.post(f"{BASE}/endpoints/{ep['id']}/secret", headers=admin, json={"overlap_hours": hours})
        assert r.status_code == 200, r.text
        secrets.append(r.json()["secret"])

    ctx = c.app.state.runtime.extras["webhooks"]

    def signing() -> list[str]:
        with c.app.state.runtime.db.sessions() as s:
            return service.signing_secrets(ctx, s.get(Endpoint, ep["id"]), clock.now())

    # Three rotations within a day: all four secrets sign, the newest first.
    assert signing() == [secrets[3], secrets[2], secrets[1], secrets[0]]
    # The first secret's overlap (24 h from the first rotation) ends first.
    clock.advance(timedelta(hours=22, minutes=1))
    assert signing() == [secrets[3], secrets[2], secrets[1]]
    clock.advance(timedelta(hours=2))
    assert signing() == [secrets[3]]
    # Overlap 0 after more rotations: only the new secret signs.
    for _ in range(2):
        c.post(f"{BASE}/endpoints/{ep['id']}/secret", headers=admin, json={"overlap_hours": 24})
    last = c.post(f"{BASE}/endpoints/{ep['id']}/secret", headers=admin, json={"overlap_hours": 0}).json()
    assert signing() == [last["secret"]]


def test_too_many_overlapping_secrets_is_a_clear_refusal(service_client, tokens):
    c = service_client("webhooks", webhooks_settings=fast(worker_enabled=False))
    tid = str(uuid.uuid4())
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    ep = c.post(f"{BASE}/endpoints", headers=admin,
                json={"url": "https://partner.example/hook", "event_types": ["procedure.completed"]}).json()
    answers = [c.post(f"{BASE}/endpoints/{ep['id']}/secret", headers=admin, json={"overlap_hours": 1}).status_code
               for _ in range(service.MAX_SIGNING_SECRETS)]
    assert answers[:service.MAX_SIGNING_SECRETS - 1] == [200] * (service.MAX_SIGNING_SECRETS - 1)
    assert answers[-1] == 409
    assert c.post(f"{BASE}/endpoints/{ep['id']}/secret", headers=admin, json={"overlap_hours": 0}).status_code == 200
