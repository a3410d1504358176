"""A 被保険者番号 has one holder per tenant (issues 27 item 2, 29 item 4), and whether a number is
held in a 事業所 the caller cannot see is not told by any answer (issue 18 item 12).

The rule is the unique index on (tenant_id, hihokensha_claim); the answers are service.claim_number's:
409 where the caller may see the holder; where not, the answer an unused number gets, the number
kept unclaimed (docs/koyo_hoken.md "被保険者番号")."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select

from services.koyo_hoken.models import InsuredPerson
from shared.db import Database
from tests.conftest import bearer
from tests.koyo_hoken.support import ALL_WRITE, BASE, person, tenant
from tests.koyo_hoken.test_csv import HEADER, hire
from tests.koyo_hoken.test_csv import post as post_csv

NUMBER = "5001-234567-8"


def holders(settings: Any, tenant_id: str, key: str) -> tuple[int, int]:
    """(persons with the number, persons holding its claim) in the tenant; the number is compared by
    its 10-digit identity, read from the stored text."""
    db = Database(settings.database_url("koyo_hoken"))
    try:
        with db.sessions() as s:
            rows = s.execute(select(InsuredPerson.hihokensha_bango).where(
                InsuredPerson.tenant_id == tenant_id, InsuredPerson.hihokensha_bango.is_not(None))).scalars()
            with_number = sum(1 for n in rows if re.sub(r"\D", "", n)[:10] == key)
            claim = getattr(InsuredPerson, "hihokensha_claim", None)  # None: the code before migration 0007
            claimed = -1 if claim is None else s.execute(select(func.count()).where(
                InsuredPerson.tenant_id == tenant_id, claim == key)).scalar_one()
            return with_number, claimed
    finally:
        db.dispose()


def test_patch_cannot_store_a_number_another_person_holds(service_client, tokens):
    # Issue 27 item 2: the check ran after the write and could match the edited row (200 in 2 of 3).
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    c.post(f"{BASE}/insured-persons", headers=h, json=person("js-1", hihokensha_bango=NUMBER))
    other = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-2")).json()
    for attempt in range(3):
        current = c.get(f"{BASE}/insured-persons/{other['id']}", headers=h)
        r = c.patch(f"{BASE}/insured-persons/{other['id']}", headers={**h, "If-Match": current.headers["etag"]},
                    json={"hihokensha_bango": NUMBER})
        assert r.status_code == 409, (attempt, r.text)
        assert r.json()["title"] == "同じ被保険者番号の方が登録されています"
    assert c.get(f"{BASE}/insured-persons/{other['id']}", headers=h).json()["hihokensha_bango"] is None


def test_a_legacy_number_is_the_same_number_as_its_check_digit_form(service_client, tokens, settings):
    c = service_client("koyo_hoken")
    tid = tenant()
    h = bearer(tokens.user(tid))
    assert c.post(f"{BASE}/insured-persons", headers=h, json=person(hihokensha_bango="5001-234567")).status_code == 201
    for same in ("5001-234567-8", "5001234567", "５００１－２３４５６７－３"):
        r = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-2", hihokensha_bango=same))
        assert r.status_code == 409, (same, r.text)
    r = post_csv(c, h, HEADER + hire(1, js="js-2", number="5001-234567-1"))
    assert r.status_code == 422 and r.json()["result"]["errors"][0]["field"] == "hihokensha_bango", r.text
    assert holders(settings, tid, "5001234567") == (1, 1)


def test_a_number_held_where_the_caller_cannot_see_answers_as_an_unused_one(service_client, tokens, grants,
                                                                            settings):
    """A J2-only user: POST, PATCH and the CSV import answer a number held in J1 exactly as an unused
    number (issue 18 item 12); the J1 holder keeps the claim, and the J2 person keeps the number it
    was given, unclaimed. A number held in J2 itself is refused (409) as before."""
    c = service_client("koyo_hoken")
    tid = tenant()
    admin = bearer(tokens.user(tid))
    held, unused = "5101-111111-1", "5102-222222-2"
    c.post(f"{BASE}/insured-persons", headers=admin, json=person("js-1", hihokensha_bango=held))
    j2_user = str(uuid.uuid4())
    grants.seed(tid, j2_user, ALL_WRITE, jigyosho_all=False, jigyosho_ids=["js-2"])
    j2 = bearer(tokens.bare_user(tid, j2_user))

    # POST
    answers = [c.post(f"{BASE}/insured-persons", headers=j2, json=person("js-2", hihokensha_bango=n))
               for n in (held, unused)]
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    assert answers[0].json().keys() == answers[1].json().keys()
    assert answers[0].headers.keys() == answers[1].headers.keys()
    assert answers[0].json()["hihokensha_bango"] == held
    assert holders(settings, tid, "5101111111") == (2, 1)

    # PATCH: another J2 person given a J1-held number, and an unused one.
    a = c.post(f"{BASE}/insured-persons", headers=j2, json=person("js-2")).json()
    b = c.post(f"{BASE}/insured-persons", headers=j2, json=person("js-2")).json()
    held2, unused2 = "5103-333333-3", "5104-444444-4"
    c.post(f"{BASE}/insured-persons", headers=admin, json=person("js-1", hihokensha_bango=held2))
    pa = c.patch(f"{BASE}/insured-persons/{a['id']}", headers={**j2, "If-Match": f'"{a["version"]}"'},
                 json={"hihokensha_bango": held2})
    pb = c.patch(f"{BASE}/insured-persons/{b['id']}", headers={**j2, "If-Match": f'"{b["version"]}"'},
                 json={"hihokensha_bango": unused2})
    assert (pa.status_code, pb.status_code) == (200, 200), (pa.text, pb.text)
    assert pa.json()["version"] == pb.json()["version"] and pa.json()["hihokensha_bango"] == held2
    assert holders(settings, tid, "5103333333") == (2, 1)

    # CSV: one row with a J1-held number, one with an unused one: both imported, no row error.
    held3, unused3 = "5105-555555-5", "5106-666666-6"
    c.post(f"{BASE}/insured-persons", headers=admin, json=person("js-1", hihokensha_bango=held3))
    r = post_csv(c, j2, HEADER + hire(1, js="js-2", number=held3) + hire(2, js="js-2", number=unused3))
    assert r.status_code == 200, r.text
    assert r.json()["imported_persons"] == 2 and r.json()["errors"] == []

    # The same number again inside J2 (visible to the J2 user): refused, on every route.
    again = c.post(f"{BASE}/insured-persons", headers=j2, json=person("js-2", hihokensha_bango=unused))
    assert again.status_code == 409, again.text
    r = post_csv(c, j2, HEADER + hire(1, js="js-2", number=unused))
    assert r.status_code == 422 and r.json()["result"]["errors"][0]["field"] == "hihokensha_bango"
    # And by the administrator, who sees both 事業所: refused too, whoever holds it.
    assert c.post(f"{BASE}/insured-persons", headers=admin,
                  json=person("js-1", hihokensha_bango=held)).status_code == 409
