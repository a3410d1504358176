"""Members refer to a 事業所 of the accounts master (shared.jigyosho_directory): one accounts never
published to the tenant is 404, a closed (廃止) one takes no new member (409); members recorded
before the closing stay readable and can still leave."""

from __future__ import annotations

from tests.jimukumiai.conftest import member_body


def test_unknown_jigyosho_is_404_and_nothing_is_recorded(api):
    r = api.call("POST", "/members", 404, json=member_body(jigyosho_id="js-unknown"))
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/not-found") and body["title"] == "指定されたリソースが見つかりません"
    assert "事業所" in body["detail"] and body["jigyosho_id"] == "js-unknown"
    assert api.get("/members")["total"] == 0


def test_closed_jigyosho_takes_no_new_member_and_keeps_the_old_ones(api):
    old = api.member(jigyosho_id="js-2")
    api.jigyosho.close(api.tenant, "js-2", closed_on="2025-05-31", services=("jimukumiai",))
    r = api.call("POST", "/members", 409, json=member_body(jigyosho_id="js-2"))
    body = r.json()
    assert body["type"].endswith("/jigyosho-closed") and body["title"] == "廃止された事業所です"
    assert body["closed_on"] == "2025-05-31" and body["jigyosho_id"] == "js-2"
    assert api.get(f"/members/{old['id']}")["jigyosho_id"] == "js-2"
    assert api.get("/members", params={"jigyosho_id": "js-2"})["total"] == 1
    left = api.post(f"/members/{old['id']}/leave", {"entrusted_until": "2025-05-31"})
    assert left["entrusted_until"] == "2025-05-31"
    # Another 事業所 of the tenant is not affected.
    assert api.member(jigyosho_id="js-1")["jigyosho_id"] == "js-1"
