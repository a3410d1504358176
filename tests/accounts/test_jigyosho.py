"""事業所 master: numbers parsed and validated (A3), events for the read models, If-Match."""

from tests.accounts.conftest import BASE, add_user, jigyosho_body, open_tenant
from tests.conftest import bearer
from tests.services.support import assert_matches_contract, outbox_payloads


def test_create_read_update_close_with_events(accounts, tokens, settings):
    t = open_tenant(accounts, tokens)
    h = bearer(t.admin_token)
    body = jigyosho_body(labour_insurance_number="１３１０１９１２３４５００１",
                         employment_insurance_office_number="13011234567")
    r = accounts.post(f"{BASE}/jigyosho", headers=h, json=body)
    assert r.status_code == 201, r.text
    j = r.json()
    assert j["labour_insurance_number"] == "13101912345001"
    parts = j["labour_insurance_number_parts"]
    assert (parts["prefecture"], parts["kikan_kind"], parts["kikan_application"], parts["edaban"]) == (
        "東京", "事務組合委託", "二元適用（労災・建設現場）", "001")
    assert j["employment_insurance_office_number"] == "1301-123456-7"
    url = f"{BASE}/jigyosho/{j['id']}"
    upd = accounts.put(url, headers={**h, "If-Match": '"1"'},
                       json=jigyosho_body(headcount=30, koyo_jigyo_kubun="kensetsu"))
    assert upd.status_code == 200 and upd.json()["headcount"] == 30
    assert accounts.put(url, headers={**h, "If-Match": '"1"'}, json=jigyosho_body()).status_code == 412
    closed = accounts.post(f"{url}/close", headers={**h, "If-Match": '"2"'}, json={"closed_on": "2026-09-30"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    events = outbox_payloads(settings, "accounts", j["id"])
    assert [e["type"] for e in events] == ["roumu.accounts.jigyosho.created", "roumu.accounts.jigyosho.updated",
                                           "roumu.accounts.jigyosho.closed"]
    for e in events:
        assert_matches_contract(e)
        assert "山田 花子" not in str(e)  # contact persons stay in accounts


def test_numbers_are_validated_without_guessing(accounts, tokens):
    t = open_tenant(accounts, tokens)
    h = bearer(t.admin_token)
    for field, value in (("labour_insurance_number", "4810191234000"), ("labour_insurance_number", "48101912340001"),
                         ("employment_insurance_office_number", "1301-12345-7"), ("rousai_gyoshu_code", "5")):
        r = accounts.post(f"{BASE}/jigyosho", headers=h, json=jigyosho_body(**{field: value}))
        assert r.status_code == 422, (field, value)
        assert {e["field"] for e in r.json()["errors"]} == {f"body.{field}"}
    # Any check digit is accepted (the algorithm is not public); legacy numbers without one too.
    for office in ("1301-123456-0", "1301-123456-9", "1301-123456"):
        assert accounts.post(f"{BASE}/jigyosho", headers=h,
                             json=jigyosho_body(employment_insurance_office_number=office)).status_code == 201


def test_partial_grant_cannot_create_and_staff_without_menu_is_refused(accounts, tokens):
    t = open_tenant(accounts, tokens)
    first = accounts.post(f"{BASE}/jigyosho", headers=bearer(t.admin_token), json=jigyosho_body()).json()["id"]
    _, partial = add_user(accounts, t, tokens, "part", {"jigyosho_admin": "write"}, {"all": False, "ids": [first]})
    assert accounts.post(f"{BASE}/jigyosho", headers=bearer(partial), json=jigyosho_body()).status_code == 403
    _, none = add_user(accounts, t, tokens, "none", {"koyo_hoken": "read"})
    assert accounts.get(f"{BASE}/jigyosho", headers=bearer(none)).status_code == 403


def test_search_by_name_kana_or_number_pages_server_side_within_the_grant(accounts, tokens):
    """Issue #20: the grant editors offered only the first 100 事業所; `q` finds any of them."""
    t = open_tenant(accounts, tokens)
    h = bearer(t.admin_token)
    ids = {}
    for name, kana, office in (("山田商店", "ヤマダショウテン", "1301-111111-1"),
                               ("山田建設", "ヤマダケンセツ", None),
                               ("鈴木工業", "スズキコウギョウ", "1301-222222-2"),
                               ("100%_物産", "ヒャクブッサン", None)):
        r = accounts.post(f"{BASE}/jigyosho", headers=h, json=jigyosho_body(
            name=name, name_kana=kana, employment_insurance_office_number=office))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]

    def names(query: dict[str, object], token: str = t.admin_token) -> tuple[list[str], int]:
        r = accounts.get(f"{BASE}/jigyosho", headers=bearer(token), params=query)
        assert r.status_code == 200, r.text
        return [j["name"] for j in r.json()["items"]], r.json()["total"]

    assert names({"q": "山田"}) == (["山田商店", "山田建設"], 2)
    assert names({"q": "山田", "limit": 1, "offset": 1}) == (["山田建設"], 2)
    assert names({"q": "スズキ"}) == (["鈴木工業"], 1)
    assert names({"q": "222222"}) == (["鈴木工業"], 1)
    assert names({"q": "%"}) == (["100%_物産"], 1)  # typed text, not a wildcard
    assert names({"q": "_"}) == (["100%_物産"], 1)
    assert names({"q": "該当なし"}) == ([], 0)
    _, partial = add_user(accounts, t, tokens, "part", {"jigyosho_admin": "read"},
                          {"all": False, "ids": [ids["山田建設"]]})
    assert names({"q": "山田"}, partial) == (["山田建設"], 1)  # never beyond the caller's grant
    too_long = accounts.get(f"{BASE}/jigyosho", headers=h, params={"q": "x" * 101})
    assert too_long.status_code == 422
