"""A revoked session's access token is refused by every service, not only by auth."""

from __future__ import annotations

import asyncio
import time
import uuid

from shared.events import Actor, EventEnvelope
from shared.nats_auth import ADMIN
from shared.nats_client import connect
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from tests.conftest import bearer


def user_token(tokens, tenant_id: str, sid: str) -> str:
    return tokens.access.sign({"sub": "u-rev", "tid": tenant_id, "typ": "access", "kind": "user",
                               "roles": ["tenant_admin"], "sid": sid, "aud": ACCESS_AUDIENCE,
                               "iss": ACCESS_ISSUER}, 300)


def publish_revocation(settings, tenant_id: str, sid: str) -> None:
    event = EventEnvelope(type="roumu.auth.session.revoked", tenant_id=tenant_id,
                          actor=Actor(kind="user", id="u-rev"),
                          subject={"session_id": sid, "user_id": "u-rev"}, data={"reason": "logout"})

    async def go() -> None:
        nc = await connect(settings.nats_access(ADMIN), "test-revoke", max_reconnect_attempts=0)
        await nc.jetstream().publish(event.type, event.to_json(), stream=settings.nats_stream,
                                     headers={"Nats-Msg-Id": event.id})
        await nc.close()

    asyncio.run(go())


def test_revoked_session_is_refused_by_another_service(service_client, tokens, settings):
    accounts = service_client("accounts")
    tenant = accounts.post("/api/v1/accounts/tenants", headers=bearer(tokens.operator()),
                           json={"code": f"rev-{uuid.uuid4().hex[:6]}", "name": "失効テスト", "kind": "sharoushi",
                                 "contract_start": "2026-04-01"}).json()
    tid = tenant["id"]
    revoked_sid, other_sid = str(uuid.uuid4()), str(uuid.uuid4())
    path = f"/api/v1/accounts/tenants/{tid}"
    assert accounts.get(path, headers=bearer(user_token(tokens, tid, revoked_sid))).status_code == 200

    publish_revocation(settings, tid, revoked_sid)
    deadline = time.monotonic() + 5  # the promise: refused everywhere within seconds
    while accounts.get(path, headers=bearer(user_token(tokens, tid, revoked_sid))).status_code != 401:
        assert time.monotonic() < deadline, "revoked session still accepted"
        time.sleep(0.05)
    assert accounts.get(path, headers=bearer(user_token(tokens, tid, other_sid))).status_code == 200


def test_a_restarted_service_replays_recent_revocations(service_client, tokens, settings):
    tid = str(uuid.uuid4())
    sid = str(uuid.uuid4())
    publish_revocation(settings, tid, sid)
    fresh = service_client("accounts")  # a new app: empty memory, replays from the stream
    rt = fresh.app.state.runtime
    deadline = time.monotonic() + 10
    while not rt.revoked.ready:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert rt.revoked.is_revoked(sid)
