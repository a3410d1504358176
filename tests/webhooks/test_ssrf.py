"""Webhook URLs cannot reach inside our network (issue 18 item 5, SSRF): loopback, private,
link-local, unique-local, multicast and metadata addresses are refused when an endpoint is registered
or changed, and again at every delivery, where the address is resolved, judged and pinned for the
connection (a name that later resolves to 127.0.0.1 is never reached). The delivery log shows a
failure class, never the answer of whatever was there."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import httpx
import pytest

from services.webhooks import sender
from services.webhooks.models import Endpoint
from services.webhooks.rules import destinations
from services.webhooks.settings import WebhooksSettings
from tests.conftest import bearer
from tests.webhooks.support import ScriptedReceiver, publish, wait_for
from tests.webhooks.test_webhooks import BASE, document_received, fast

INSIDE = ["http://127.0.0.1:8101/api/v1/accounts/tenants", "http://localhost:4222/", "http://10.0.0.7/",
          "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
          "http://[::1]:8101/", "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://[fe80::1]/",
          "http://100.64.0.1/", "http://0.0.0.0:8101/", "http://224.0.0.1/", "http://[64:ff9b::7f00:1]/",
          "http://2130706433/"]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd12::1", "fe80::1",
                                     "224.0.0.1", "ff02::1", "100.64.0.1", "0.0.0.0", "::ffff:10.0.0.1",
                                     "2002:7f00:1::", "64:ff9b::a00:1", "192.0.2.10"])
def test_addresses_inside_or_reserved_are_not_public(address: str) -> None:
    assert not destinations.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "133.242.0.1"])
def test_public_addresses_are(address: str) -> None:
    assert destinations.is_public(ipaddress.ip_address(address))


def test_a_name_that_also_resolves_inside_is_refused_whole() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    with pytest.raises(destinations.RefusedDestination):
        destinations.resolve("rebind.example", 443, (), resolver)
    allowed = destinations.parse_networks(["127.0.0.0/8"])
    assert str(destinations.resolve("rebind.example", 443, allowed, resolver)) == "93.184.216.34"


@pytest.mark.parametrize("url", INSIDE)
def test_registering_an_inside_address_is_refused(service_client, tokens, url: str) -> None:
    c = service_client("webhooks", webhooks_settings=WebhooksSettings(allow_http=True, worker_enabled=False))
    tid = str(uuid.uuid4())
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    r = c.post(f"{BASE}/endpoints", headers=admin, json={"url": url, "event_types": ["procedure.completed"]})
    assert r.status_code == 422, (url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "body.url"


def test_changing_an_endpoint_to_an_inside_address_is_refused(service_client, tokens) -> None:
    c = service_client("webhooks", webhooks_settings=WebhooksSettings(allow_http=True, worker_enabled=False))
    tid = str(uuid.uuid4())
    admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
    ep = c.post(f"{BASE}/endpoints", headers=admin,
                json={"url": "https://partner.example/hook", "event_types": ["procedure.completed"]})
    assert ep.status_code == 201, ep.text
    etag = c.get(f"{BASE}/endpoints/{ep.json()['id']}", headers=admin).headers["etag"]
    r = c.patch(f"{BASE}/endpoints/{ep.json()['id']}", headers={**admin, "If-Match": etag},
                json={"url": "http://127.0.0.1:8102/"})
    assert r.status_code == 422


def test_a_delivery_to_an_address_that_turned_inside_is_never_sent(service_client, tokens, settings) -> None:
    """An endpoint whose URL now points inside (stored before this rule, or its name rebound) is judged
    again at delivery: nothing reaches the address, and the log says only `address_refused`."""
    inside = ScriptedReceiver()  # stands for an internal service on loopback
    try:
        c = service_client("webhooks", webhooks_settings=fast(allowed_networks=[], retry_for_hours=0.0002))
        tid = str(uuid.uuid4())
        admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
        ep = c.post(f"{BASE}/endpoints", headers=admin,
                    json={"url": "https://partner.example/hook", "event_types": ["official_document.received"]})
        assert ep.status_code == 201, ep.text
        with c.app.state.runtime.db.transaction() as s:
            s.get(Endpoint, ep.json()["id"]).url = inside.url
        publish(settings, document_received(tid))
        log: list[dict[str, Any]] = wait_for(lambda: [
            d for d in c.get(f"{BASE}/endpoints/{ep.json()['id']}/deliveries", headers=admin).json()["items"]
            if d["attempts"] >= 1], "an attempt")
        assert inside.requests == []
        assert log[0]["last_error"] == sender.ADDRESS_REFUSED and log[0]["last_status_code"] is None
    finally:
        inside.stop()


def test_the_delivery_log_names_a_class_not_what_answered(service_client, tokens, settings) -> None:
    receiver = ScriptedReceiver(then=405)
    try:
        c = service_client("webhooks", webhooks_settings=fast(retry_for_hours=0.0002))
        tid = str(uuid.uuid4())
        admin = bearer(tokens.user(tid, roles=("tenant_admin",)))
        closed = f"http://127.0.0.1:{_closed_port()}/"
        eps = [c.post(f"{BASE}/endpoints", headers=admin,
                      json={"url": url, "event_types": ["official_document.received"]}).json()
               for url in (receiver.url, closed)]
        publish(settings, document_received(tid))
        errors = {}
        for ep in eps:
            items = wait_for(lambda ep=ep: [d for d in c.get(f"{BASE}/endpoints/{ep['id']}/deliveries",
                                                             headers=admin).json()["items"] if d["attempts"]],
                             "an attempt")
            errors[ep["url"]] = items[0]["last_error"]
        assert errors == {receiver.url: sender.HTTP_STATUS, closed: sender.CONNECTION_FAILED}
    finally:
        receiver.stop()


def test_the_connection_goes_to_the_pinned_address_with_the_original_host() -> None:
    """The name is resolved once, by us; the request goes to that address with the name as Host."""
    receiver = ScriptedReceiver()
    try:
        port = int(receiver.url.split(":")[2].split("/")[0])
        lookups: list[str] = []

        def resolver(host: str, p: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        with httpx.Client() as http:
            out = sender.post(http, f"http://hooks.partner.example:{port}/hook", b"{}", {}, 5,
                              destinations.parse_networks(["127.0.0.1/32"]), resolver)
            refused = sender.post(http, f"http://hooks.partner.example:{port}/hook", b"{}", {}, 5, (), resolver)
        assert out == sender.Outcome(200, None)
        assert refused == sender.Outcome(None, sender.ADDRESS_REFUSED)
        assert lookups == ["hooks.partner.example"] * 2
        assert len(receiver.requests) == 1
        assert receiver.requests[0].headers["Host"] == f"hooks.partner.example:{port}"
    finally:
        receiver.stop()


def _closed_port() -> int:
    from shared.ports import free_port

    return free_port()
