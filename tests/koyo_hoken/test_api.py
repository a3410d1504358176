"""koyo_hoken through the API: the DOMAIN.md worked examples, the procedure lifecycle with its
deadlines, the 59+ 離職証明書 rule, My Number masking/unmasking/recording and 事業所 isolation."""

from __future__ import annotations

import logging

from sqlalchemy import create_engine, text

from services.koyo_hoken import service
from shared.events import Actor, EventEnvelope
from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, MY_NUMBER, frozen, person, tenant
from tests.services.support import assert_matches_contract, outbox_payloads


def _eligibility(c, h, **body):
    r = c.post(f"{BASE}/eligibility", headers=h, json={"birth_date": "1990-04-01", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_eligibility_worked_examples_and_the_2028_flip(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    a = _eligibility(c, h, on="2025-06-01", weekly_hours="18", contract_end="2025-11-30")
    assert not a["insured"] and a["reason_code"] == "under_weekly_hours"
    assert a["rule_version"] == "koyo-eligibility/2022-01-01"
    a2 = _eligibility(c, h, on="2028-10-01", weekly_hours="18", contract_end="2029-03-31")
    assert a2["insured"] and a2["rule_version"] == "koyo-eligibility/2028-10-01"

    assert not _eligibility(c, h, on="2028-09-30", weekly_hours="15")["insured"]
    assert _eligibility(c, h, on="2028-10-01", weekly_hours="15")["insured"]

    b = _eligibility(c, h, on="2025-06-01", birth_date="1959-01-10", weekly_hours="12",
                     other_jobs=[{"weekly_hours": "9"}])
    assert not b["insured"] and b["multi_job"]["may_apply"]
    assert "本人がハローワークに申し出" in b["multi_job"]["explanation"]

    cc = _eligibility(c, h, on="2025-06-01", weekly_hours="25", student="daytime")
    assert not cc["insured"] and cc["reason_code"] == "daytime_student"
    assert _eligibility(c, h, on="2025-06-01", weekly_hours="25", student="night_part_time_correspondence")["insured"]


def test_rishoku_preview_worked_example(service_client, tokens):
    c = service_client("koyo_hoken")
    periods = []
    months = [("2024-10-01", "2024-10-31"), ("2024-11-01", "2024-11-30"), ("2024-12-01", "2024-12-31"),
              ("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-31"),
              ("2025-04-01", "2025-04-30"), ("2025-05-01", "2025-05-31"), ("2025-06-01", "2025-06-30"),
              ("2025-07-01", "2025-07-31"), ("2025-08-01", "2025-08-31"), ("2025-09-01", "2025-09-30"),
              ("2025-10-01", "2025-10-20")]
    for s, e in months:
        days = int(e[-2:]) - int(s[-2:]) + 1
        periods.append({"start": s, "end": e, "basic_days": days, "wages_a": 300000})
    r = c.post(f"{BASE}/rishoku-shomeisho/preview", headers=bearer(tokens.user(tenant())),
               json={"rishoku_date": "2025-10-20", "insured_since": "2020-04-01",
                     "wage_history": {"pay_type": "monthly_full", "closing_day": 31, "periods": periods}})
    assert r.status_code == 200, r.text
    cert = r.json()
    rows = cert["insured_rows"]
    assert len(rows) == 12 and (rows[0]["start"], rows[0]["end"]) == ("2025-09-21", "2025-10-20")
    assert (rows[-1]["start"], rows[-1]["end"]) == ("2024-10-21", "2024-11-20")
    assert cert["wage_rows"][0]["start"] == "2025-10-01" and not cert["wage_rows"][0]["complete"]
    assert cert["qualifying_wage_rows"] == 6 and cert["requirement_shown"] and cert["flags"] == []


def _register(c, h, **over):
    r = c.post(f"{BASE}/insured-persons", headers=h, json=person(**over))
    assert r.status_code == 201, r.text
    return r.json()


def _procedure(c, h, pid, kind, event_date, **over):
    return c.post(f"{BASE}/procedures", headers=h,
                  json={"insured_person_id": pid, "kind": kind, "event_date": event_date, **over})


def test_deadline_examples_through_the_api(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    p = _register(c, h, hire_date="2025-04-15")
    r = _procedure(c, h, p["id"], "shikaku_shutoku", "2025-04-15")
    assert r.status_code == 201, r.text
    assert (r.json()["raw_due_date"], r.json()["due_date"]) == ("2025-05-10", "2025-05-12")

    r = _procedure(c, h, p["id"], "shikaku_soshitsu", "2025-12-19", details={"cause": "2"})
    assert r.status_code == 201, r.text
    assert (r.json()["raw_due_date"], r.json()["due_date"]) == ("2025-12-30", "2026-01-05")

    q = _register(c, h, hire_date="2025-04-01")
    r = _procedure(c, h, q["id"], "shikaku_soshitsu", "2025-09-11", details={"cause": "2"})
    assert r.json()["due_date"] == "2025-09-22"

    t = _register(c, h, jigyosho_id="js-1", hire_date="2025-04-01", hihokensha_bango="1234-567890-1")
    r = _procedure(c, h, t["id"], "tenkin", "2025-04-25", to_jigyosho_id="js-2")
    assert r.status_code == 201, r.text
    assert r.json()["due_date"] == "2025-05-07" and r.json()["jigyosho_id"] == "js-2"
    assert c.get(f"{BASE}/insured-persons/{t['id']}", headers=h).json()["jigyosho_id"] == "js-2"


def test_59_year_old_leaver_without_rishoku_shomeisho_is_refused(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    p = _register(c, h, birth_date="1966-05-01", hire_date="2010-04-01", hihokensha_bango="1234-567890-1")
    r = _procedure(c, h, p["id"], "shikaku_soshitsu", "2025-10-20", details={"cause": "2"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == "離職証明書が必要です" and "59歳以上" in body["detail"]
    assert body["errors"][0]["field"] == "body.with_rishoku_shomeisho"
    # Nothing was recorded.
    assert c.get(f"{BASE}/procedures", headers=h, params={"insured_person_id": p["id"]}).json()["total"] == 0
    r = _procedure(c, h, p["id"], "shikaku_soshitsu", "2025-10-20", with_rishoku_shomeisho=True,
                   details={"cause": "2", "rishoku_reason_code": "2A"})
    assert r.status_code == 201 and r.json()["kind"] == "shikaku_soshitsu_rishoku"


def _efiling_event(rt, tenant_id, etype, procedure_id, filing_id, **data):
    subject = {"filing_id": filing_id, "tenant_id": tenant_id}
    if procedure_id is not None:
        subject["procedure_id"] = procedure_id
    ev = EventEnvelope(type=etype, tenant_id=tenant_id, actor=Actor(kind="service", id="efiling"),
                       subject=subject, data=data)
    with rt.transaction() as session:
        service.on_efiling_event(session, ev)


def test_lifecycle_form_data_and_efiling_status(service_client, tokens, settings):
    c = service_client("koyo_hoken", clock=frozen(2026, 4, 3))
    tid = tenant()
    h = bearer(tokens.user(tid))
    p = _register(c, h, hire_date="2026-04-01", my_number=MY_NUMBER, job_type=None)
    r = _procedure(c, h, p["id"], "shikaku_shutoku", "2026-04-01")
    pr = r.json()
    assert pr["state"] == "draft" and pr["due_date"] == "2026-05-11"  # 5/10 is a Sunday

    assert c.post(f"{BASE}/procedures/{pr['id']}/check", headers=h).status_code == 428  # If-Match, as any edit
    r = c.post(f"{BASE}/procedures/{pr['id']}/check", headers={**h, "If-Match": f'"{pr["version"]}"'})
    assert r.status_code == 200 and r.json()["state"] == "draft"
    fields = {x["field"] for x in r.json()["problems"] if x["severity"] == "error"}
    assert {"details.jigyosho_number", "details.cause", "person.job_type"} <= fields
    ready = c.post(f"{BASE}/procedures/{pr['id']}/ready", headers={**h, "If-Match": r.headers["etag"]})
    assert ready.status_code == 409, ready.text

    etag = c.get(f"{BASE}/insured-persons/{p['id']}", headers=h).headers["etag"]
    assert c.patch(f"{BASE}/insured-persons/{p['id']}", headers=h, json={"job_type": "事務"}).status_code == 428
    r = c.patch(f"{BASE}/insured-persons/{p['id']}", headers={**h, "If-Match": etag}, json={"job_type": "事務"})
    assert r.status_code == 200, r.text
    etag = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).headers["etag"]
    r = c.patch(f"{BASE}/procedures/{pr['id']}", headers={**h, "If-Match": etag},
                json={"details": {"jigyosho_number": "1301-123456-7", "cause": "2"}})
    assert r.status_code == 200, r.text
    r = c.post(f"{BASE}/procedures/{pr['id']}/check", headers={**h, "If-Match": r.headers["etag"]})
    assert r.json()["state"] == "checked", r.json()["problems"]
    assert c.post(f"{BASE}/procedures/{pr['id']}/ready", headers={**h, "If-Match": '"1"'}).status_code == 412
    r = c.post(f"{BASE}/procedures/{pr['id']}/ready", headers={**h, "If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.json()["state"] == "ready" and r.json()["proc_id"] == "4950008680033000"

    # The hand-off event: ids, form ids and where to fetch the data; no My Number.
    payloads = outbox_payloads(settings, "koyo_hoken", pr["id"])
    for ev in payloads:
        assert_matches_contract(ev)
    ready = next(e for e in payloads if e["type"] == "roumu.koyo_hoken.procedure.ready")
    assert ready["data"]["forms"][0]["form_id"] == "495008680033800330"
    assert ready["data"]["idempotency_key"] == pr["id"] and MY_NUMBER not in str(ready)

    # A user's view of the form data is masked; e-filing's service token reads it unmasked (recorded).
    r = c.get(f"{BASE}/procedures/{pr['id']}/form-data", headers=h)
    main = r.json()["forms"][0]["fields"]
    assert main["個人番号"] == "********9018" and main["被保険者氏名フリガナ"] == "ヤマダ\u3000タロウ"
    assert main["資格取得年月日"] == {"年号": "令和", "年": "08", "月": "04", "日": "01"}
    assert c.get(f"{BASE}/procedures/{pr['id']}/form-data", headers=h, params={"unmask": True}).status_code == 403
    svc = bearer(tokens.service("efiling", "koyo_hoken", tid))
    r = c.get(f"{BASE}/procedures/{pr['id']}/form-data", headers=svc, params={"unmask": True})
    assert r.status_code == 200, r.text
    assert r.json()["forms"][0]["fields"]["個人番号"] == MY_NUMBER and r.json()["my_number_included"]
    viewed = [e for e in outbox_payloads(settings, "koyo_hoken", p["id"])
              if e["type"] == "roumu.koyo_hoken.my_number.viewed"]
    assert len(viewed) == 1 and viewed[0]["data"] == {"purpose": "form_data", "procedure_id": pr["id"]}
    assert viewed[0]["actor"]["kind"] == "service"

    # e-filing's status events move the procedure along.
    rt = c.app.state.runtime
    _efiling_event(rt, tid, "roumu.efiling.filing.submitted", pr["id"], "f-1")
    got = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()
    assert got["state"] == "submitted" and got["filing_id"] == "f-1"
    _efiling_event(rt, tid, "roumu.efiling.filing.status_changed", None, "f-1", status="審査中")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["state"] == "accepted"
    _efiling_event(rt, tid, "roumu.efiling.filing.status_changed", None, "f-1", status="未知の状態")
    got = c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()
    assert got["state"] == "accepted" and got["filing_status"] == "未知の状態"
    _efiling_event(rt, tid, "roumu.efiling.filing.official_document_received", pr["id"], "f-1")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["state"] == "completed"
    # Another tenant's event about the same id changes nothing.
    _efiling_event(rt, tenant(), "roumu.efiling.filing.withdrawn", pr["id"], "f-1")
    assert c.get(f"{BASE}/procedures/{pr['id']}", headers=h).json()["state"] == "completed"
    types = [e["type"] for e in outbox_payloads(settings, "koyo_hoken", pr["id"])]
    assert types.count("roumu.koyo_hoken.procedure.submitted") == 1
    assert types.count("roumu.koyo_hoken.procedure.completed") == 1
    for ev in outbox_payloads(settings, "koyo_hoken", pr["id"]):
        assert_matches_contract(ev)
    r = c.post(f"{BASE}/procedures/{pr['id']}/transitions", headers=h, json={"state": "withdrawn"})
    assert r.status_code == 409


def test_withdraw_and_manual_paper_filing(service_client, tokens):
    c = service_client("koyo_hoken")
    h = bearer(tokens.user(tenant()))
    p = _register(c, h)
    pr = _procedure(c, h, p["id"], "shikaku_shutoku", "2025-04-15").json()
    assert _procedure(c, h, p["id"], "shikaku_shutoku", "2025-04-15").status_code == 409
    assert c.post(f"{BASE}/procedures/{pr['id']}/transitions", headers=h,
                  json={"state": "submitted"}).status_code == 409  # draft → submitted is not a move
    r = c.post(f"{BASE}/procedures/{pr['id']}/transitions", headers=h, json={"state": "withdrawn", "reason": "重複"})
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert _procedure(c, h, p["id"], "shikaku_shutoku", "2025-04-15").status_code == 201


def test_my_number_masked_unmasked_recorded_and_never_leaked(service_client, tokens, grants, settings, caplog):
    caplog.set_level(logging.DEBUG)
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    grants.seed(tid, "u-mn", {**ALL_WRITE, "my_number_unmasked": "read"})
    hm = bearer(tokens.user(tid, "u-mn"))
    p = _register(c, h, my_number="1234-5678-9018")
    assert p["my_number_registered"] and p["my_number_masked"] == "********9018"
    assert MY_NUMBER not in str(p)

    r = c.get(f"{BASE}/insured-persons/{p['id']}/my-number", headers=h)
    assert r.status_code == 403 and MY_NUMBER not in r.text
    r = c.get(f"{BASE}/insured-persons/{p['id']}/my-number", headers=hm)
    assert r.status_code == 200 and r.json()["my_number"] == MY_NUMBER
    assert r.headers["cache-control"] == "no-store"
    viewed = [e for e in outbox_payloads(settings, "koyo_hoken", p["id"])
              if e["type"] == "roumu.koyo_hoken.my_number.viewed"]
    assert len(viewed) == 1 and viewed[0]["actor"]["id"] == "u-mn" and viewed[0]["data"]["purpose"] == "screen"
    assert_matches_contract(viewed[0])

    # A wrong check digit and a bad update: error bodies do not echo the number.
    etag = c.get(f"{BASE}/insured-persons/{p['id']}", headers=h).headers["etag"]
    r = c.put(f"{BASE}/insured-persons/{p['id']}/my-number", headers={**h, "If-Match": etag},
              json={"my_number": "123456789017"})
    assert r.status_code == 422 and "123456789017" not in r.text
    r = c.put(f"{BASE}/insured-persons/{p['id']}/my-number", headers={**h, "If-Match": etag},
              json={"my_number": "987654321093"})
    assert r.status_code == 200 and r.json()["my_number_masked"] == "********1093"

    # Nowhere in plain text: not the events, not the logs, not the raw table.
    for ev in outbox_payloads(settings, "koyo_hoken", p["id"]):
        assert MY_NUMBER not in str(ev) and "987654321093" not in str(ev)
        assert_matches_contract(ev)
    for rec in caplog.records:
        assert MY_NUMBER not in rec.getMessage() and MY_NUMBER not in str(rec.__dict__)
    engine = create_engine(settings.database_url("koyo_hoken"))
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM insured_persons WHERE id = :i"), {"i": p["id"]}).mappings().one()
            dump = " ".join(str(v) for v in row.values())
            outbox = " ".join(str(v) for v in conn.execute(text("SELECT payload FROM outbox")).scalars())
    finally:
        engine.dispose()
    for plain in (MY_NUMBER, "987654321093", "1234-5678-9018", "9876-5432-1093"):
        assert plain not in dump and plain not in outbox
    assert row["my_number_sealed"].count(":") == 1  # <kid>:<sealed>


def test_my_number_survives_key_rotation(service_client, tokens, settings):
    from shared.crypto import DataKeys, load_data_keys
    old = load_data_keys(settings.keys_dir)
    c = service_client("koyo_hoken")
    tid = tenant()
    p = _register(c, bearer(tokens.user(tid)), my_number=MY_NUMBER)
    rotated = DataKeys((("dk-new", b"\x01" * 32), *old.keys))
    c2 = service_client("koyo_hoken", data_keys=rotated)
    svc = bearer(tokens.service("efiling", "koyo_hoken", tid))
    r = c2.get(f"{BASE}/insured-persons/{p['id']}/my-number", headers=svc)
    assert r.status_code == 200 and r.json()["my_number"] == MY_NUMBER
    engine = create_engine(settings.database_url("koyo_hoken"))
    try:
        with engine.connect() as conn:
            sealed = conn.execute(text("SELECT my_number_sealed FROM insured_persons WHERE id = :i"),
                                  {"i": p["id"]}).scalar_one()
    finally:
        engine.dispose()
    assert sealed.startswith("dk-new:")  # re-sealed under the newest key on the read


def test_jigyosho_isolation_404_for_person_and_procedure(service_client, tokens, grants):
    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid))
    p = _register(c, admin, jigyosho_id="js-b")
    pr = _procedure(c, admin, p["id"], "shikaku_shutoku", "2025-04-15").json()
    grants.seed(tid, "u-a", ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-a"])
    staff = bearer(tokens.user(tid, "u-a"))
    for path in (f"/insured-persons/{p['id']}", f"/procedures/{pr['id']}", f"/procedures/{pr['id']}/form-data"):
        r = c.get(BASE + path, headers=staff)
        assert r.status_code == 404, path
        assert r.json()["title"] == "指定されたリソースが見つかりません"
    assert c.post(f"{BASE}/procedures/{pr['id']}/check", headers={**staff, "If-Match": '"1"'}).status_code == 404
    assert _procedure(c, staff, p["id"], "shikaku_soshitsu", "2025-09-11").status_code == 404
    assert c.get(f"{BASE}/insured-persons", headers=staff).json()["total"] == 0
    assert c.get(f"{BASE}/procedures", headers=staff).json()["total"] == 0
    assert c.get(f"{BASE}/deadlines", headers=staff).json()["total"] == 0
    assert c.get(f"{BASE}/deadlines", headers=staff, params={"jigyosho_id": "js-b"}).status_code == 404
    assert c.post(f"{BASE}/insured-persons", headers=staff, json=person("js-b")).status_code == 404
    # Transferring a person of one's own 事業所 to one outside the grant is refused the same way.
    q = _register(c, staff, jigyosho_id="js-a", hihokensha_bango="1234-567890-1")
    assert _procedure(c, staff, q["id"], "tenkin", "2025-04-25", to_jigyosho_id="js-b").status_code == 404


def test_deadline_view_due_soon_overdue_filters_and_summary(service_client, tokens):
    c = service_client("koyo_hoken", clock=frozen(2025, 5, 8))
    h = bearer(tokens.user(tenant()))
    a = _register(c, h, jigyosho_id="js-1", hire_date="2025-04-15")  # no procedure yet: 取得届 due 5/12
    b = _register(c, h, jigyosho_id="js-2", hire_date="2025-03-01", hihokensha_bango="1234-567890-1")
    _procedure(c, h, b["id"], "shikaku_soshitsu", "2025-04-20", details={"cause": "2"})  # due 5/1: overdue
    later = _register(c, h, jigyosho_id="js-2", hire_date="2025-05-01")
    _procedure(c, h, later["id"], "shikaku_shutoku", "2025-05-01")  # due 6/10: upcoming
    r = c.get(f"{BASE}/deadlines", headers=h)
    page = r.json()
    assert page["today"] == "2025-05-08" and page["total"] == 3
    states = [(i["insured_person_id"], i["due_state"], i["due_date"]) for i in page["items"]]
    assert states == [(b["id"], "overdue", "2025-05-01"), (a["id"], "due_soon", "2025-05-12"),
                      (later["id"], "upcoming", "2025-06-10")]
    assert page["items"][1]["procedure_id"] is None and page["items"][1]["days_left"] == 4
    r = c.get(f"{BASE}/deadlines", headers=h, params={"due_state": "overdue"})
    assert [i["kind"] for i in r.json()["items"]] == ["shikaku_soshitsu"]
    r = c.get(f"{BASE}/deadlines", headers=h, params={"jigyosho_id": "js-2", "kind": "shikaku_shutoku"})
    assert r.json()["total"] == 1
    s = c.get(f"{BASE}/deadlines/summary", headers=h).json()
    assert s["jigyosho"] == [{"jigyosho_id": "js-1", "overdue": 0, "due_soon": 1, "upcoming": 0},
                             {"jigyosho_id": "js-2", "overdue": 1, "due_soon": 0, "upcoming": 1}]
