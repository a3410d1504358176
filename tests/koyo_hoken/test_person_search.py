"""The persons list as the console pages it (issue 21): search by name, furigana (ひらがな and
half-width カナ too) and 被保険者番号, the 五十音順 and 番号順 orders, and the 事業所 grant holding
for every search (a person of another 事業所 is never found)."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, select

from services.koyo_hoken import repository, service
from services.koyo_hoken.models import InsuredPerson
from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, person, tenant

# 被保険者番号 (4-6-1; the check digit is not verified: rules.numbers.CHECK_DIGIT_HOOK is unset).
PEOPLE = [
    ("js-a", "山田", "太郎", "ヤマダ", "タロウ", None),
    ("js-a", "山本", "花子", "ヤマモト", "ハナコ", "5001-000001-4"),
    ("js-a", "佐藤", "一郎", "サトウ", "イチロウ", "5001-000002-2"),
    ("js-a", "伊藤", "山子", "イトウ", "ヤマコ", "5002-000003-8"),
    ("js-b", "山田", "次郎", "ヤマダ", "ジロウ", "5001-000004-9"),
]


def _seed(c, h):
    ids = {}
    for js, fam, giv, fk, gk, number in PEOPLE:
        body = person(js, family_name=fam, given_name=giv, family_name_kana=fk, given_name_kana=gk)
        if number:
            body["hihokensha_bango"] = number
        r = c.post(f"{BASE}/insured-persons", headers=h, json=body)
        assert r.status_code == 201, r.text
        ids[fam + giv] = r.json()["id"]
    return ids


def _names(c, h, **params):
    r = c.get(f"{BASE}/insured-persons", headers=h, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return [p["family_name"] + p["given_name"] for p in body["items"]], body["total"]


def test_search_by_name_kana_and_number_within_granted_jigyosho(service_client, tokens, grants):
    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid))
    _seed(c, admin)
    grants.seed(tid, "u-a", ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-a"])
    h = bearer(tokens.user(tid, "u-a"))

    # 漢字: the family name, or the whole name with or without a space typed between; a given name
    # alone is not a prefix of the name (伊藤山子 is not found by 山).
    assert sorted(_names(c, h, q="山")[0]) == ["山本花子", "山田太郎"]
    assert _names(c, h, q="山田太") == (["山田太郎"], 1)
    assert _names(c, h, q="山田 太郎") == (["山田太郎"], 1)
    # The administrator sees js-b's 山田次郎 too; u-a never does, whatever it searches.
    assert sorted(_names(c, admin, q="山田")[0]) == ["山田太郎", "山田次郎"]
    for q in ("山田", "やまだ", "ﾔﾏﾀﾞ", "ジロウ", "5001-000004", "5001000004", "山田次郎"):
        names, _ = _names(c, h, q=q)
        assert "山田次郎" not in names, q
    # Furigana typed as ひらがな or half-width カナ finds the katakana stored.
    assert _names(c, h, q="やまも")[0] == ["山本花子"]
    assert sorted(_names(c, h, q="ﾔﾏ")[0]) == ["山本花子", "山田太郎"]
    assert _names(c, h, q="イトウ ヤマコ")[0] == ["伊藤山子"]
    assert _names(c, h, q="サトウイチ")[0] == ["佐藤一郎"]
    # 被保険者番号 by its digits, hyphens or not, as a prefix; 4 digits at least.
    assert sorted(_names(c, h, q="5001")[0]) == ["佐藤一郎", "山本花子"]
    assert _names(c, h, q="5002-000003-8")[0] == ["伊藤山子"]
    assert _names(c, h, q="5001000002")[0] == ["佐藤一郎"]
    assert _names(c, h, q="123") == ([], 0)  # too short to be a number: a name search, none match
    # LIKE's own characters are searched for literally.
    assert _names(c, h, q="%") == ([], 0)
    assert _names(c, h, q="_") == ([], 0)
    # Control characters are dropped (PostgreSQL refuses a NUL in text; never a 500), and a query of
    # nothing but spaces filters nothing.
    assert sorted(_names(c, h, q="\x00山\x07")[0]) == ["山本花子", "山田太郎"]
    assert _names(c, h, q="\u3000 ")[1] == 4
    # Searching one 事業所 of one's own; another's is refused as before.
    assert sorted(_names(c, h, q="山", jigyosho_id="js-a")[0]) == ["山本花子", "山田太郎"]
    r = c.get(f"{BASE}/insured-persons", headers=h, params={"q": "山", "jigyosho_id": "js-b"})
    assert r.status_code in (403, 404), r.text
    assert c.get(f"{BASE}/insured-persons", headers=h, params={"q": "x" * 51}).status_code == 422
    assert c.get(f"{BASE}/insured-persons", headers=h, params={"q": ""}).status_code == 422


def test_sort_by_kana_and_number_with_paging(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    _seed(c, h)
    kana = ["伊藤山子", "佐藤一郎", "山田次郎", "山田太郎", "山本花子"]  # イトウ, サトウ, ヤマダジ, ヤマダタ, ヤマモ
    assert _names(c, h, sort="kana", limit=100)[0] == kana
    assert _names(c, h, sort="-kana", limit=100)[0] == kana[::-1]
    # Pages of two follow the same order without overlap or gap.
    pages = [_names(c, h, sort="kana", limit=2, offset=o)[0] for o in (0, 2, 4)]
    assert [n for page in pages for n in page] == kana
    numbered = ["山本花子", "佐藤一郎", "山田次郎", "伊藤山子"]  # 5001-000001, -000002, -000004, 5002-
    assert _names(c, h, sort="hihokensha_bango", limit=100)[0] == [*numbered, "山田太郎"]
    assert _names(c, h, sort="-hihokensha_bango", limit=100)[0] == [*numbered[::-1], "山田太郎"]
    assert c.get(f"{BASE}/insured-persons", headers=h, params={"sort": "family_name"}).status_code == 422


def test_a_renamed_person_is_found_by_the_new_name_only(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    ids = _seed(c, h)
    pid = ids["山田太郎"]
    etag = c.get(f"{BASE}/insured-persons/{pid}", headers=h).headers["etag"]
    r = c.patch(f"{BASE}/insured-persons/{pid}", headers={**h, "If-Match": etag},
                json={"family_name": "川口", "family_name_kana": "カワグチ"})
    assert r.status_code == 200, r.text
    assert _names(c, h, q="川口太")[0] == ["川口太郎"]
    assert _names(c, h, q="かわぐち")[0] == ["川口太郎"]
    assert "川口太郎" not in _names(c, h, q="やまだ")[0]


def test_the_search_and_order_columns_are_indexed(settings):
    """The list stays an index range with 10,000 persons (bench/bench_console.py times it)."""
    engine = create_engine(settings.database_url("koyo_hoken"))
    try:
        indexes = {tuple(i["column_names"]) for i in inspect(engine).get_indexes("insured_persons")}
        plan = ""
        if engine.dialect.name == "sqlite":
            # The planner's own word (not our code's): the search and the order read their indexes.
            with engine.connect() as conn:
                search = repository.person_search(service.person_search("やまだ"), "sqlite")
                stmt = select(InsuredPerson.id).where(InsuredPerson.tenant_id == "t",
                                                      InsuredPerson.jigyosho_id == "js-a", *search)
                sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
                number = repository.person_search(service.person_search("5001-00"), "sqlite")
                stmt = select(InsuredPerson.id).where(InsuredPerson.tenant_id == "t", *number)
                sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
                plan += " | " + " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    finally:
        engine.dispose()
    assert ("tenant_id", "jigyosho_id", "family_name_kana", "given_name_kana") in indexes
    assert ("tenant_id", "jigyosho_id", "search_name") in indexes
    assert ("tenant_id", "jigyosho_id", "search_kana") in indexes
    assert ("tenant_id", "hihokensha_key") in indexes
    if plan:
        assert "ix_insured_persons_search_name" in plan and "ix_insured_persons_search_kana" in plan, plan
        assert "ix_insured_persons_tenant_hihokensha_key" in plan, plan
        assert "SCAN insured_persons" not in plan, plan
