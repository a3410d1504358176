"""The audit-log API: who may read what, the log screen's filters and cursor, the user's own
login history, "who saw this person's My Number", CSV export, checkpoints and verify over HTTP."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from services.audit_log import export
from services.audit_log.models import permissions
from services.audit_log.repository import EntryFilter
from services.audit_log.rules.checkpoint import open_note, parse_verifier_key
from services.audit_log.service import ENTRIES, MY_NUMBER_VIEWED
from shared.clock import FrozenClock
from shared.permissions import snapshot_data
from tests.audit_log.conftest import event, store
from tests.conftest import bearer

NOW = datetime.now(UTC).replace(microsecond=0)
ADMIN = ("tenant_admin",)


@pytest.fixture
def clock():
    return FrozenClock(NOW)


@pytest.fixture
def audit(service_client, clock):
    return service_client("audit_log", background=False, clock=clock)


def login(tenant, user, at=None, type="roumu.auth.login.succeeded"):
    data = {"method": "password"} if type.endswith("succeeded") else {"reason": "bad_password"}
    return event(tenant, type, actor=user, subject={"user_id": user, "session_id": str(uuid.uuid4())},
                 data=data, at=at or NOW - timedelta(minutes=5))


def ids(page):
    return [i["event_id"] for i in page.json()["items"]]


def test_staff_without_the_menu_reads_only_their_own_login_history(audit, audit_db, tokens, tenant):
    mine = [login(tenant, "staff-1"), login(tenant, "staff-1", type="roumu.auth.login.failed")]
    theirs = [login(tenant, "staff-2"), event(tenant, actor="admin-1")]
    store(audit_db, mine + theirs)
    staff = bearer(tokens.user(tenant, "staff-1"))
    for path in ("/entries", "/entries.csv", "/verify", "/checkpoints", "/my-number-views?person_id=p-1"):
        r = audit.get(f"/api/v1/audit-log{path}", headers=staff)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["menu"] == "operation_logs", path
    r = audit.get("/api/v1/audit-log/me/logins", headers=staff)
    assert r.status_code == 200
    assert sorted(ids(r)) == sorted(e.id for e in mine)
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))
    assert set(ids(audit.get("/api/v1/audit-log/entries", headers=admin))) == {e.id for e in mine + theirs}
    assert audit.get("/api/v1/audit-log/me/logins").status_code == 401


def test_an_administrator_cannot_read_another_tenants_log(audit, audit_db, tokens, tenant):
    other = str(uuid.uuid4())
    person = str(uuid.uuid4())
    theirs = event(other, actor="their-admin", subject={"insured_person_id": person, "tenant_id": other})
    viewed = event(other, MY_NUMBER_VIEWED, subject={"insured_person_id": person, "tenant_id": other})
    mine = event(tenant)
    store(audit_db, [theirs, viewed, mine])
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))
    assert ids(audit.get("/api/v1/audit-log/entries", headers=admin)) == [mine.id]
    for q in (f"target={person}", "user_id=their-admin", f"action={MY_NUMBER_VIEWED}"):
        assert ids(audit.get(f"/api/v1/audit-log/entries?{q}", headers=admin)) == [], q
    assert ids(audit.get(f"/api/v1/audit-log/my-number-views?person_id={person}", headers=admin)) == []
    csv_text = audit.get("/api/v1/audit-log/entries.csv", headers=admin).content.decode("utf-8-sig")
    assert theirs.id not in csv_text and mine.id in csv_text
    report = audit.get("/api/v1/audit-log/verify", headers=admin).json()
    assert report["tenant_id"] == tenant
    assert {c["category"]: c["last_seq"] for c in report["chains"]} == {"login": 0, "operation": 1}
    # Their admin sees theirs.
    assert set(ids(audit.get("/api/v1/audit-log/entries", headers=bearer(tokens.user(other, "a", ADMIN))))) == {
        theirs.id, viewed.id}


def test_filters_window_and_cursor(audit, audit_db, tokens, tenant):
    j1, j2, person = "jig-1", "jig-2", "person-7"
    a = event(tenant, "roumu.koyo_hoken.insured_person.registered", actor="u-a",
              subject={"insured_person_id": person, "tenant_id": tenant, "jigyosho_id": j1},
              at=NOW - timedelta(days=2))
    b = event(tenant, "roumu.efiling.filing.drafted", actor="u-b",
              subject={"filing_id": "f-1", "tenant_id": tenant, "jigyosho_id": j2}, at=NOW - timedelta(days=1))
    c = event(tenant, actor="u-a", at=NOW - timedelta(hours=1))
    old_op = event(tenant, actor="u-a", at=NOW - timedelta(days=91))  # past the screen's 90 days
    old_login = login(tenant, "u-a", at=NOW - timedelta(days=200))  # within the year kept
    store(audit_db, [old_op, old_login, a, b, c])
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))

    def q(params):
        r = audit.get("/api/v1/audit-log/entries", params=params, headers=admin)
        assert r.status_code == 200, r.text
        return ids(r)

    assert q({}) == [c.id, b.id, a.id, old_login.id]  # newest first; the 91-day-old operation is out
    assert q({"user_id": "u-a"}) == [c.id, a.id, old_login.id]
    assert q({"jigyosho_id": j1}) == [a.id]
    assert q({"action": "roumu.efiling.filing.drafted"}) == [b.id]
    assert q({"action": "roumu.koyo_hoken."}) == [a.id]
    assert q({"target": person}) == [a.id]
    assert q({"category": "login"}) == [old_login.id]
    since, until = (NOW - timedelta(days=1, hours=1)).isoformat(), (NOW - timedelta(hours=2)).isoformat()
    assert q({"since": since, "until": until}) == [b.id]
    assert audit.get("/api/v1/audit-log/entries", params={"since": "2026-01-01T00:00:00"},
                     headers=admin).status_code == 422
    assert audit.get("/api/v1/audit-log/entries", params={"cursor": "bm90LWEtY3Vyc29y"},
                     headers=admin).status_code == 422

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = audit.get("/api/v1/audit-log/entries", params=params, headers=admin).json()
        seen += [i["event_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c.id, b.id, a.id, old_login.id]
    item = audit.get("/api/v1/audit-log/entries", params={"target": person}, headers=admin).json()["items"][0]
    assert (item["actor_ip"], item["trace_id"], item["jigyosho_id"], item["category"]) == (
        "192.0.2.10", "req-1", j1, "operation")


def test_staff_granted_the_log_for_one_jigyosho_sees_that_one_only(audit, audit_db, tokens, tenant):
    with audit_db.transaction() as s:  # as roumu.accounts.user.permissions_changed would
        permissions.apply_snapshot(s, tenant, "staff-9", snapshot_data(
            ["staff"], {"operation_logs": "read"}, False, ["jig-1"], "active", 1))
    in_scope = event(tenant, subject={"file_id": "f1", "tenant_id": tenant, "jigyosho_id": "jig-1"})
    out_scope = event(tenant, subject={"file_id": "f2", "tenant_id": tenant, "jigyosho_id": "jig-2"})
    tenant_wide = event(tenant)
    store(audit_db, [in_scope, out_scope, tenant_wide])
    staff = bearer(tokens.user(tenant, "staff-9"))
    assert ids(audit.get("/api/v1/audit-log/entries", headers=staff)) == [in_scope.id]
    assert audit.get("/api/v1/audit-log/verify", headers=staff).status_code == 403
    assert audit.post("/api/v1/audit-log/checkpoints", headers=staff).status_code == 403  # read only


def test_every_access_to_one_persons_my_number(audit, audit_db, tokens, tenant):
    person, other = "ip-" + uuid.uuid4().hex[:8], "ip-" + uuid.uuid4().hex[:8]
    subj = {"insured_person_id": person, "tenant_id": tenant, "jigyosho_id": "jig-1"}
    v1 = event(tenant, MY_NUMBER_VIEWED, actor="u-1", ip="198.51.100.1", subject=subj, trace_id="req-a",
               at=NOW - timedelta(days=3))
    v2 = event(tenant, MY_NUMBER_VIEWED, actor="u-2", ip="198.51.100.2", subject=subj, trace_id="req-b")
    registered = event(tenant, "roumu.koyo_hoken.insured_person.registered", subject=subj)
    elsewhere = event(tenant, MY_NUMBER_VIEWED, subject={**subj, "insured_person_id": other})
    store(audit_db, [v1, registered, v2, elsewhere])
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))
    page = audit.get("/api/v1/audit-log/my-number-views", params={"person_id": person}, headers=admin).json()
    assert [(i["event_id"], i["actor_id"], i["actor_ip"], i["trace_id"]) for i in page["items"]] == [
        (v2.id, "u-2", "198.51.100.2", "req-b"), (v1.id, "u-1", "198.51.100.1", "req-a")]


def test_my_number_views_include_efiling_package_downloads(audit, audit_db, tokens, tenant):
    """An e-filing package downloaded with the number shown is a view of that person's number too
    (issue 18): the same query lists it beside koyo_hoken's unmasked reads."""
    person = "ip-" + uuid.uuid4().hex[:8]
    subj = {"insured_person_id": person, "tenant_id": tenant, "jigyosho_id": "jig-1"}
    screen = event(tenant, MY_NUMBER_VIEWED, actor="u-1", subject=subj, at=NOW - timedelta(days=1))
    package = event(tenant, "roumu.efiling.my_number.viewed", actor="u-2",
                    subject={**subj, "filing_id": "f-1", "package_id": "p-1"},
                    data={"purpose": "package_download", "procedure_code": "4950008680033000"})
    downloaded = event(tenant, "roumu.efiling.package.downloaded", actor="u-3",
                       subject={**subj, "filing_id": "f-1", "package_id": "p-1"})
    store(audit_db, [screen, package, downloaded])
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))
    page = audit.get("/api/v1/audit-log/my-number-views", params={"person_id": person}, headers=admin).json()
    assert [(i["event_id"], i["actor_id"]) for i in page["items"]] == [(package.id, "u-2"), (screen.id, "u-1")]


def test_csv_export_is_utf8_with_bom_and_streamed(audit, audit_db, settings, tokens, tenant, clock):
    entries = [event(tenant, actor=f"u-{n}", data={"件名": "資格取得届", "n": n}) for n in range(5)]
    entries.append(event(tenant, actor="=HYPERLINK(1)"))
    store(audit_db, entries)
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))
    r = audit.get("/api/v1/audit-log/entries.csv", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == export.HEADER and len(rows) == 1 + len(entries)
    assert b"\r\n" in r.content and "資格取得届" in r.content.decode("utf-8")
    assert any(row[4] == "'=HYPERLINK(1)" for row in rows[1:])  # no formula for Excel
    only = audit.get("/api/v1/audit-log/entries.csv", params={"user_id": "u-3"}, headers=admin)
    assert len(list(csv.reader(io.StringIO(only.content.decode("utf-8-sig"))))) == 2

    # Streamed: one chunk per page read, never the whole export at once.
    db = audit.app.state.runtime.db
    chunks = list(export.csv_chunks(db, tenant, EntryFilter(), now=clock.now(), jigyosho_scope=None, page_size=2))
    assert len(chunks) == 4  # header + 2, 2, 2 (and the last short read ends it)
    assert b"".join(chunks) == r.content


def test_checkpoints_and_verify_over_http(audit, audit_db, tokens, tenant):
    store(audit_db, [event(tenant) for _ in range(3)] + [login(tenant, "u-1")])
    admin = bearer(tokens.user(tenant, "admin-1", ADMIN))
    made = audit.post("/api/v1/audit-log/checkpoints", headers=admin)
    assert made.status_code == 201
    assert sorted((c["category"], c["tenant_seq"]) for c in made.json()) == [("login", 1), ("operation", 3)]
    assert audit.post("/api/v1/audit-log/checkpoints", headers=admin).json() == []  # nothing new to sign
    listed = audit.get("/api/v1/audit-log/checkpoints", headers=admin).json()["items"]
    notes = [c["note"] for c in listed]

    # Anyone holding the published key checks an exported note offline.
    keys = audit.get("/api/v1/audit-log/checkpoint-keys").json()
    vkeys = [parse_verifier_key(k) for k in keys["verifier_keys"]]
    assert keys["keys"][0]["crv"] == "Ed25519"
    bodies = [open_note(n, vkeys) for n in notes]
    assert {b.chain for b in bodies} == {(tenant, "login"), (tenant, "operation")}

    assert audit.get("/api/v1/audit-log/verify", headers=admin).json()["ok"] is True
    with audit_db.transaction() as s:
        s.execute(update(ENTRIES).where(ENTRIES.c.tenant_id == tenant, ENTRIES.c.category == "operation",
                                        ENTRIES.c.tenant_seq == 2).values(actor_id="intruder"))
    report = audit.post("/api/v1/audit-log/verify", json={"notes": notes}, headers=admin).json()
    assert report["ok"] is False
    assert report["first_mismatch"]["tenant_seq"] == 2 and report["first_mismatch"]["reason"] == "changed"
    bad = audit.post("/api/v1/audit-log/verify", json={"notes": ["not a note"]}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_metrics_are_exposed(audit):
    text = audit.get("/metrics").text
    for name in ("roumu_audit_entries_total", "roumu_audit_consumer_lag", "roumu_audit_entries_per_second",
                 "roumu_audit_verification_ok"):
        assert name in text, name
