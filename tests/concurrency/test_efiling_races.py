"""e-filing under real parallel requests (issue 29 items 1, 2, 10 and the bulk part of 13).

The efiling app runs under uvicorn in a thread (its sync routes in uvicorn's thread pool, like
`make run`), the e-Gov sandbox as its own server; requests are sent at once from threads released
by one barrier, with the sandbox's /apply and /bulk-apply answering late so that the sends overlap.
Afterwards the invariants are read from the sandbox (what arrived) and from efiling's tables: each
arrival is held by exactly one filing, no filing is sent twice, `filing.submitted` is recorded once
per filing, no 5xx. The races show on PostgreSQL; the cases run on SQLite too."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text

from services.efiling import submission
from services.efiling.app import create_app
from services.efiling.models import BulkSend
from shared.db import Database
from shared.settings import CommonSettings
from tests.concurrency.harness import covers
from tests.conftest import Tokens, bearer
from tests.gateway.support import ServerThread
from tests.services.efiling.support import APPLICANT, FORM, PROC, efiling_settings, make_egov, shutoku
from tests.services.egov_support import SandboxServer, new_account
from tests.services.grants import GrantSeeder

BASE = "/api/v1/efiling"
LATE = 0.3  # seconds the sandbox holds /apply and /bulk-apply (the probe used 0.3 s)


def efiling_server(settings: CommonSettings, sandbox: SandboxServer) -> ServerThread:
    """The efiling app on a loopback port, in a thread, with its lifespan (relay; worker off)."""
    app = create_app(settings=settings, efiling_settings=efiling_settings(sandbox, worker_enabled=False))
    return ServerThread(app, http="httptools", loop="asyncio").start()


@pytest.fixture(scope="module")
def sandbox_server(settings: CommonSettings) -> Iterator[SandboxServer]:
    server = SandboxServer(settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def efiling(settings: CommonSettings, sandbox_server: SandboxServer) -> Iterator[ServerThread]:
    server = efiling_server(settings, sandbox_server)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seeder(settings: CommonSettings) -> Iterator[GrantSeeder]:
    s = GrantSeeder(settings)
    yield s
    s.close()


@pytest.fixture(scope="module")
def db(settings: CommonSettings) -> Iterator[Database]:
    d = Database(settings.database_url("efiling"))
    yield d
    d.dispose()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.reset()
    return sandbox_server


class Office:
    """One tenant's staff member with a linked e-Gov account, talking to the running app."""

    def __init__(self, efiling: ServerThread, sandbox: SandboxServer, settings: CommonSettings,
                 seeder: GrantSeeder) -> None:
        self.tenant, self.account = str(uuid.uuid4()), new_account()
        seeder.ensure(self.tenant, "u-1")
        self.headers = bearer(Tokens(settings.keys_dir).user(self.tenant))
        self.http = httpx.Client(base_url=efiling.url, timeout=60)
        r = self.http.post(f"{BASE}/egov-accounts", headers=self.headers,
                           json={"label": "事務所", "login_hint": self.account})
        assert r.status_code == 201, r.text
        back = sandbox.http.get(r.json()["authorization_url"])
        got = parse_qs(urlsplit(back.headers["location"]).query)
        r = self.http.post(f"{BASE}/egov-accounts/callback", headers=self.headers,
                           json={"code": got["code"][0], "state": got["state"][0]})
        assert r.status_code == 200, r.text
        self.account_id = str(r.json()["id"])

    def close(self) -> None:
        self.http.close()

    def new_filing(self) -> str:
        r = self.http.post(f"{BASE}/filings", headers=self.headers, json={
            "jigyosho_id": "js-1", "procedure_code": PROC, "applicant": APPLICANT,
            "forms": [{"form_id": FORM, "version": "0001", "fields": shutoku()[FORM]}]})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def etag(self, fid: str) -> str:
        return self.http.get(f"{BASE}/filings/{fid}", headers=self.headers).headers["etag"]

    def submit(self, fid: str, etag: str) -> httpx.Response:
        with httpx.Client(base_url=self.http.base_url, timeout=60) as c:  # one connection per caller
            return c.post(f"{BASE}/filings/{fid}/submit", headers={
                **self.headers, "If-Match": etag, "Idempotency-Key": str(uuid.uuid4())})

    def bulk(self, ids: list[str]) -> httpx.Response:
        with httpx.Client(base_url=self.http.base_url, timeout=60) as c:
            return c.post(f"{BASE}/filings/bulk-submit", headers={**self.headers, "Idempotency-Key": str(uuid.uuid4())},
                          json={"filing_ids": ids})

    def filing(self, fid: str) -> dict[str, Any]:
        r = self.http.get(f"{BASE}/filings/{fid}", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def office(efiling: ServerThread, sandbox: SandboxServer, settings: CommonSettings,
           seeder: GrantSeeder) -> Iterator[Office]:
    o = Office(efiling, sandbox, settings, seeder)
    yield o
    o.close()


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Every call from its own thread, released together."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        gate.wait(30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def submitted_events(db: Database, fid: str) -> int:
    with db.sessions() as session:
        return int(session.execute(text("SELECT count(*) FROM outbox WHERE aggregate_id = :a AND subject = :s"),
                                   {"a": fid, "s": "roumu.efiling.filing.submitted"}).scalar_one())


def no_5xx(answers: list[httpx.Response]) -> None:
    bad = [(r.status_code, r.text[:300]) for r in answers if r.status_code >= 500]
    assert not bad, bad
    for r in answers:
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json"), r.text


def arrivals_held_once(office: Office, sandbox: SandboxServer, ids: list[str], db: Database) -> dict[str, Any]:
    """Every arrival at the sandbox is held by exactly one of these filings, and each filing that
    holds one reported it once (`filing.submitted`); none is left `draft` with an arrival."""
    cases = sandbox.cases(office.account)
    arrivals = Counter(c["arrive_id"] for c in cases)
    states = {fid: office.filing(fid) for fid in ids}
    held = Counter(s["arrive_id"] for s in states.values() if s["arrive_id"])
    assert set(arrivals) == set(held), (
        f"{len(cases)} arrivals at e-Gov, {sum(held.values())} held by filings: "
        f"{ {fid: (s['status'], s['arrive_id']) for fid, s in states.items()} }")
    assert all(n == 1 for n in held.values()), held
    # the sandbox's cases carry no filing id: as many arrivals as holders means none was sent twice
    assert len(cases) == len(held), "a filing reached e-Gov twice"
    for fid, s in states.items():
        assert submitted_events(db, fid) == (1 if s["arrive_id"] else 0), (fid, s)
        assert not (s["status"] == "draft" and s["arrive_id"])
    return states


@covers("POST /api/v1/efiling/filings/{filing_id}/submit")
def test_ten_submits_of_one_filing_reach_egov_once(office: Office, sandbox: SandboxServer, db: Database) -> None:
    """Issue 29 item 1: ten submits of one filing with their own keys and the same If-Match, /apply
    answering late. The nine that find the send in flight answer 409 with the state, never `draft`."""
    fid = office.new_filing()
    etag = office.etag(fid)
    sandbox.fault(kind="slow", path="/shinsei/v2/apply", method="POST", count=10, delay_seconds=LATE)
    answers = at_once([lambda: office.submit(fid, etag) for _ in range(10)])
    no_5xx(answers)
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {200, 409, 412}, codes
    for r in answers:
        if r.status_code == 200:
            assert r.json()["filing"]["status"] == "arrived", r.json()
        if r.status_code == 409:
            assert r.json().get("status") not in (None, "draft"), r.json()
    assert codes[200] == 1, codes
    assert len(sandbox.requests(path="/shinsei/v2/apply", method="POST")) == 1
    states = arrivals_held_once(office, sandbox, [fid], db)
    assert states[fid]["status"] == "arrived" and states[fid]["attempts"] == 1


def test_ten_submits_of_an_unknown_filing_send_it_once(office: Office, sandbox: SandboxServer, db: Database) -> None:
    """Item 1, the lost answer: the first /apply answered 500 before processing (`unknown`); ten
    submits at once reconcile it. One finds nothing and sends; the others answer 409 with the
    state (never a 200 showing `draft` while it is being sent)."""
    fid = office.new_filing()
    sandbox.fault(kind="500", path="/shinsei/v2/apply", method="POST", count=1)
    first = office.submit(fid, office.etag(fid))
    assert first.status_code == 200 and first.json()["filing"]["status"] == "unknown", first.text
    etag = first.headers["etag"]
    sandbox.fault(kind="slow", path="/shinsei/v2/apply", method="POST", count=10, delay_seconds=LATE)
    answers = at_once([lambda: office.submit(fid, etag) for _ in range(10)])
    no_5xx(answers)
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {200, 409, 412}, codes
    for r in answers:
        if r.status_code == 200:
            assert r.json()["filing"]["status"] == "arrived", r.json()
        if r.status_code == 409:  # `draft` only between the winner's lookup and its send
            assert r.json()["type"].endswith("/send-in-progress") and r.json()["status"], r.json()
    assert len([r for r in sandbox.requests(path="/shinsei/v2/apply", method="POST") if r["status"] == 200]) == 1
    states = arrivals_held_once(office, sandbox, [fid], db)
    assert states[fid]["status"] == "arrived" and states[fid]["attempts"] == 2


@covers("POST /api/v1/efiling/filings/bulk-submit", "POST /api/v1/efiling/filings/{filing_id}/submit")
def test_bulk_send_overlapping_single_submits_files_each_once(office: Office, sandbox: SandboxServer,
                                                              db: Database) -> None:
    """Issue 29 item 2: one bulk-submit of ten filings and a single submit of each, at once, both
    kinds of send answering late. Each filing reaches e-Gov once (by one way or the other), every
    arrival is held, the bulk-submit answers 200."""
    ids = [office.new_filing() for _ in range(10)]
    etags = {fid: office.etag(fid) for fid in ids}
    sandbox.fault(kind="slow", path="/shinsei/v2/apply", method="POST", count=10, delay_seconds=LATE)
    # The single submits' format check answers late too, and the bulk send later still: they find
    # their filing in the bulk send, its answer not yet come, by the time they would send it.
    sandbox.fault(kind="slow", path="/shinsei/v2/apply/check", method="POST", count=10, delay_seconds=2 * LATE)
    sandbox.fault(kind="slow", path="/shinsei/v2/bulk-apply", method="POST", count=1, delay_seconds=4 * LATE)
    calls: list[Callable[[], httpx.Response]] = [lambda: office.bulk(ids)]
    calls += [lambda fid=fid: office.submit(fid, etags[fid]) for fid in ids]  # type: ignore[misc]
    answers = at_once(calls)
    no_5xx(answers)
    assert answers[0].status_code == 200, answers[0].text
    assert {r.status_code for r in answers[1:]} <= {200, 409, 412}
    states = arrivals_held_once(office, sandbox, ids, db)
    # whatever the single submits left (409: the account's slot or the bulk had it) went in the bulk
    assert {s["status"] for s in states.values()} == {"arrived"}, states
    with db.sessions() as session:
        empty = session.execute(select(func.count()).select_from(BulkSend).where(
            BulkSend.egov_account_id == office.account_id, BulkSend.count == 0)).scalar_one()
    assert empty == 0, "a bulk send with nothing in it was committed"


def test_a_bulk_send_with_nothing_to_send_leaves_no_row(office: Office, sandbox: SandboxServer, db: Database,
                                                        settings: CommonSettings) -> None:
    """Issue 29 item 13: filings that are no longer sendable when the chunk is written (sent by a
    single submit meanwhile) make no bulk send: no `bulk_sends` row, no /bulk-apply."""
    fid = office.new_filing()
    assert office.submit(fid, office.etag(fid)).json()["filing"]["status"] == "arrived"
    egov, _ = make_egov(settings, sandbox)
    try:
        assert submission.bulk_submit(db, egov, [fid]) == []
    finally:
        egov.http.close()
    with db.sessions() as session:
        rows = session.execute(select(BulkSend).where(BulkSend.egov_account_id == office.account_id)).scalars()
        assert list(rows) == []
    assert sandbox.requests(path="/shinsei/v2/bulk-apply") == []


def test_expired_token_is_refreshed_once_by_ten_submits(office: Office, sandbox: SandboxServer, db: Database) -> None:
    """Issue 29 item 10: the access token expired at e-Gov; ten submits at once (ten filings of one
    account) each meet a 401. One refresh is made; the rest use the token it got. No 5xx."""
    ids = [office.new_filing() for _ in range(10)]
    etags = {fid: office.etag(fid) for fid in ids}
    sandbox.http.post("/_sandbox/tokens/expire", params={"account": office.account}).raise_for_status()
    before = len(sandbox.requests(path="/auth/token"))
    answers = at_once([lambda fid=fid: office.submit(fid, etags[fid]) for fid in ids])  # type: ignore[misc]
    no_5xx(answers)
    refreshes = len(sandbox.requests(path="/auth/token")) - before
    assert refreshes == 1, f"{refreshes} refreshes for one expired token"
    arrivals_held_once(office, sandbox, ids, db)


def test_a_401_that_survives_the_refresh_is_a_clear_503(office: Office, sandbox: SandboxServer,
                                                        db: Database) -> None:
    """Issue 29 item 10: e-Gov refuses the token again after a refresh: 503 problem+json
    `egov-unauthorized` (not a 500), nothing sent, the filing still sendable."""
    fid = office.new_filing()
    sandbox.fault(kind="401", path="/shinsei/v2/apply/check", method="POST", count=2)
    r = office.submit(fid, office.etag(fid))
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/egov-unauthorized")
    assert sandbox.requests(path="/shinsei/v2/apply", method="POST") == []
    assert office.filing(fid)["status"] == "draft"
    r = office.submit(fid, office.etag(fid))
    assert r.status_code == 200 and r.json()["filing"]["status"] == "arrived", r.text
