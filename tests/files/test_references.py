"""Uploads that name a procedure or a filing (issue 18 item 11): the reference must be one of the
caller's tenant in the file's own 事業所, learnt from koyo_hoken's and efiling's events (a real NATS
consumer), else 404 — so a user limited to 事業所 J-B cannot attach files to J-A's procedures, and an
id of another 事業所 looks like an unused one."""

from __future__ import annotations

import uuid

from services.files.models import AttachableRef
from shared.events import Actor, EventEnvelope
from tests.conftest import bearer
from tests.files import samples
from tests.files.support import tenant as new_tenant
from tests.files.test_api import BASE, assert_problem, files, post, put  # noqa: F401 - fixture
from tests.webhooks.support import publish, wait_for

KOYO = Actor(kind="service", id="koyo_hoken")
EFILING = Actor(kind="service", id="efiling")


def procedure_created(tenant_id: str, jigyosho_id: str) -> EventEnvelope:
    pid = str(uuid.uuid4())
    return EventEnvelope(type="roumu.koyo_hoken.procedure.created", tenant_id=tenant_id, actor=KOYO,
                         subject={"procedure_id": pid, "tenant_id": tenant_id, "jigyosho_id": jigyosho_id,
                                  "insured_person_id": str(uuid.uuid4())},
                         data={"kind": "shikaku_shutoku", "state": "draft", "event_date": "2026-12-01",
                               "due_date": "2027-01-13"})


def filing_drafted(tenant_id: str, jigyosho_id: str) -> EventEnvelope:
    return EventEnvelope(type="roumu.efiling.filing.drafted", tenant_id=tenant_id, actor=EFILING,
                         subject={"filing_id": str(uuid.uuid4()), "tenant_id": tenant_id,
                                  "jigyosho_id": jigyosho_id},
                         data={"procedure_code": "4950008680033000", "status": "draft"})


def known(c, tenant_id: str, kind: str, ref_id: str) -> bool:
    with c.app.state.runtime.db.sessions() as s:
        return s.get(AttachableRef, (tenant_id, kind, ref_id)) is not None


def test_a_user_of_one_jigyosho_cannot_attach_files_to_another_jigyoshos_procedure(
        files, tokens, grants, settings):  # noqa: F811
    c, _ = files()
    tenant = new_tenant()
    grants.seed(tenant, "only-b", {"files": "write"}, jigyosho_all=False, jigyosho_ids=["J-B"])
    only_b = tokens.bare_user(tenant, "only-b")
    in_a, in_b = procedure_created(tenant, "J-A"), procedure_created(tenant, "J-B")
    filing_a = filing_drafted(tenant, "J-A")
    publish(settings, in_a, in_b, filing_a)
    for kind, ref in (("procedure", in_a.subject["procedure_id"]), ("procedure", in_b.subject["procedure_id"]),
                      ("filing", filing_a.subject["filing_id"])):
        wait_for(lambda kind=kind, ref=ref: known(c, tenant, kind, ref), f"the {kind} in the read model")

    # J-A's procedure and filing, named under J-B (the caller's own 事業所): 404, as an unused id.
    for params in ({"procedure_id": in_a.subject["procedure_id"]}, {"filing_id": filing_a.subject["filing_id"]},
                   {"procedure_id": str(uuid.uuid4())}):
        for send in (post, put):
            body = assert_problem(send(c, only_b, samples.PDF, "a.pdf", jig="J-B", **params), 404, "not-found")
            assert params[next(iter(params))] not in str(body)
    # Its own 事業所's procedure: accepted, and the reference is stored.
    ok = post(c, only_b, samples.PDF, "b.pdf", jig="J-B", procedure_id=in_b.subject["procedure_id"])
    assert ok.status_code == 201 and ok.json()["procedure_id"] == in_b.subject["procedure_id"]
    # A full user attaching to J-A's procedure under J-A: fine; under J-B: the procedure is not J-B's.
    full = tokens.user(tenant)
    assert post(c, full, samples.PDF, "c.pdf", jig="J-A", procedure_id=in_a.subject["procedure_id"]).status_code == 201
    assert post(c, full, samples.PDF, "d.pdf", jig="J-B", procedure_id=in_a.subject["procedure_id"]).status_code == 404
    # Another tenant's procedure id is unknown here too.
    other = new_tenant()
    assert post(c, tokens.user(other), samples.PDF, "e.pdf", jig="J-A",
                procedure_id=in_a.subject["procedure_id"]).status_code == 404


def test_a_service_stores_under_its_own_filing(files, tokens):  # noqa: F811
    """efiling stores 公文書 under the filing it just received them for, with its service token."""
    c, _ = files()
    tenant = new_tenant()
    token = tokens.service("efiling", "files", tenant)
    r = c.post(f"{BASE}/files", params={"jigyosho_id": "J-A", "filing_id": str(uuid.uuid4())},
               headers=bearer(token), files={"file": ("kobunsho.pdf", samples.PDF, "application/octet-stream")})
    assert r.status_code == 201, r.text
