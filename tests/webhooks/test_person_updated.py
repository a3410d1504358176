"""`person.updated` end to end (issue #28): a change of an insured person in koyo_hoken goes through
its outbox and real NATS to the webhooks service, which delivers it once per change to a partner's
endpoint, signed, with a body valid against `PersonUpdatedWebhook` in the partner contract."""

from __future__ import annotations

import json
import uuid
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ops.partner_contract import PARTNER_CONTRACT
from tests.conftest import bearer
from tests.koyo_hoken.support import BASE as KOYO
from tests.koyo_hoken.support import person
from tests.support.consumers import wait_caught_up, wait_published
from tests.support.jigyosho import JigyoshoSeeder, jigyosho
from tests.webhooks.support import partner_example, wait_for
from tests.webhooks.test_webhooks import fast, partner, receivers, register

__all__ = ["jigyosho", "receivers"]  # the fixtures, used below


def _validator(name: str) -> Draft202012Validator:
    doc = json.loads(PARTNER_CONTRACT.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:partner", Resource.from_contents(doc, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:partner#/components/schemas/{name}"}, registry=registry)


def test_a_changed_person_is_delivered_once_as_person_updated(service_client, settings, tokens, receivers,
                                                              jigyosho: JigyoshoSeeder):
    hooks = service_client("webhooks", webhooks_settings=fast())
    koyo = service_client("koyo_hoken")
    tid = str(uuid.uuid4())
    jigyosho.open(tid, "js-1", services=("koyo_hoken",))  # as if accounts had published it
    receiver = receivers()
    ep = register(hooks, partner(tokens, tid), receiver.url, ["person.updated"])
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    created = koyo.post(f"{KOYO}/insured-persons", headers=admin, json=person())
    assert created.status_code == 201, created.text
    pid = created.json()["id"]

    etag = created.headers["etag"]
    for hours in ("30", "20"):  # two changes: the second one's delivery follows the first (order per person)
        r = koyo.patch(f"{KOYO}/insured-persons/{pid}", headers={**admin, "If-Match": etag},
                       json={"weekly_hours": hours})
        assert r.status_code == 200, r.text
        etag = r.headers["etag"]
    last_version = r.json()["version"]

    def delivered() -> list[dict[str, Any]]:
        return [json.loads(x.body) for x in receiver.requests]

    # In a full run koyo_hoken's relay first publishes what earlier tests left in the session's
    # outbox, and webhooks' consumer first works through every earlier test's koyo_hoken events.
    wait_published(settings, "koyo_hoken", pid)
    wait_caught_up(settings, "webhooks-koyo-hoken-events")
    try:  # the worker also retries earlier tests' deliveries to receivers long gone (one webhooks database)
        wait_for(lambda: any(b["data"]["version"] == last_version for b in delivered()), "the second change",
                 timeout=120)
    except AssertionError as exc:
        log = hooks.get(f"/api/v1/webhooks/endpoints/{ep['id']}/deliveries", headers=admin).json()
        raise AssertionError(f"{exc}; received {len(receiver.requests)}; the endpoint's log: {log}") from None
    bodies = delivered()
    # The registration was not subscribed; each change came exactly once, in order.
    assert [b["type"] for b in bodies] == ["person.updated", "person.updated"]
    assert [b["data"]["version"] for b in bodies] == [last_version - 1, last_version]
    assert len({b["id"] for b in bodies}) == 2
    example = partner_example()
    validators = [_validator("PersonUpdatedWebhook"), _validator("WebhookEvent")]
    for body, req in zip(bodies, receiver.requests, strict=True):
        assert body["subject"]["insured_person_id"] == pid and body["tenant_id"] == tid
        assert body["data"]["changed_fields"] == ["weekly_hours"] and body["data"]["status"] == "active"
        assert body["links"]["insured_person"].endswith(f"/insured-persons/{pid}")
        for v in validators:
            assert not list(v.iter_errors(body)), list(v.iter_errors(body))
        assert example.verify_signature(ep["secret"], req.headers, req.body)
        assert "山田" not in req.body.decode()  # ids and facts only, never the name
    # The delivery log agrees: two deliveries, both succeeded on the first attempt.
    def log() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = hooks.get(f"/api/v1/webhooks/endpoints/{ep['id']}/deliveries",
                                                headers=admin).json()["items"]
        return items if all(d["status"] != "pending" for d in items) else []

    assert sorted((d["event_type"], d["status"], d["attempts"]) for d in wait_for(log, "the log")) == [
        ("person.updated", "succeeded", 1)] * 2
