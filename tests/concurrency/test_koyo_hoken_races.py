"""koyo_hoken under parallel requests (issue 29 item 4, issue 27 item 2): one 被保険者番号, one holder.

koyo_hoken is served by uvicorn on loopback (real parallel requests, its test database); requests
are released together by a barrier (tests/concurrency/races.py). Afterwards the database is asked
how many persons hold the number: exactly one, and no answer was a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.settings import CommonSettings
from tests.concurrency.harness import at_once, covers, served
from tests.conftest import bearer
from tests.koyo_hoken import support
from tests.koyo_hoken.support import BASE, person
from tests.koyo_hoken.test_csv import HEADER, hire
from tests.koyo_hoken.test_number_uniqueness import holders
from tests.services.conftest import grants, tokens  # noqa: F401 - fixtures
from tests.support.jigyosho import JigyoshoSeeder, jigyosho  # noqa: F401 - the seeder fixture


@pytest.fixture(scope="module")
def koyo_url(settings: CommonSettings) -> Iterator[str]:
    with served("koyo_hoken", settings) as url:
        yield url


@pytest.fixture(autouse=True)
def _known_jigyosho(jigyosho: JigyoshoSeeder) -> Iterator[None]:  # noqa: F811
    support.SEEDER[:] = [jigyosho]
    yield


def _no_5xx(answers: list[httpx.Response]) -> None:
    assert all(r.status_code < 500 for r in answers), [(r.status_code, r.text[:200]) for r in answers]


@covers("POST /api/v1/koyo-hoken/insured-persons")
def test_twenty_hires_with_one_number_make_one_holder(koyo_url, tokens, settings):  # noqa: F811
    tid = support.tenant()
    h = bearer(tokens.user(tid))
    number = "6001-000001-1"
    answers = at_once(koyo_url, [
        lambda c, i=i: c.post(f"{BASE}/insured-persons", headers=h,
                              json=person(("js-1", "js-2")[i % 2], hihokensha_bango=number))
        for i in range(20)])
    _no_5xx(answers)
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 19, codes
    assert holders(settings, tid, "6001000001")[0] == 1


@covers("PATCH /api/v1/koyo-hoken/insured-persons/{person_id}")
def test_two_patches_to_one_number_make_one_holder(koyo_url, tokens, settings):  # noqa: F811
    """Issue 27 item 2: two persons in J1 and J2 given the same number at once (and, in the next
    round, one person given a number a third person already holds)."""
    tid = support.tenant()
    h = bearer(tokens.user(tid))
    with httpx.Client(base_url=koyo_url, timeout=60) as c:
        for round_ in range(5):
            number = f"6002-{round_:06d}-0"
            a = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-1")).json()
            b = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-2")).json()
            answers = at_once(koyo_url, [
                lambda cl, p=p, n=number: cl.patch(f"{BASE}/insured-persons/{p['id']}",
                                                   headers={**h, "If-Match": f'"{p["version"]}"'},
                                                   json={"hihokensha_bango": n}) for p in (a, b)])
            _no_5xx(answers)
            assert sorted(r.status_code for r in answers) == [200, 409], [r.text[:200] for r in answers]
            assert holders(settings, tid, number.replace("-", "")[:10])[0] == 1
            # The loser can still be given its own number afterwards.
            loser = next(p for p, r in zip((a, b), answers, strict=True) if r.status_code == 409)
            again = c.patch(f"{BASE}/insured-persons/{loser['id']}", headers={**h, "If-Match": f'"{loser["version"]}"'},
                            json={"hihokensha_bango": f"6003-{round_:06d}-0"})
            assert again.status_code == 200, again.text


@covers("POST /api/v1/koyo-hoken/insured-persons/import")
def test_ten_csv_imports_of_one_hire_make_one_holder(koyo_url, tokens, settings):  # noqa: F811
    tid = support.tenant()
    h = {**bearer(tokens.user(tid)), "Content-Type": "text/csv"}
    body = (HEADER + hire(1, number="6004-000001-1")).encode()
    answers = at_once(koyo_url, [lambda c: c.post(f"{BASE}/insured-persons/import", headers=h, content=body)
                                 for _ in range(10)])
    _no_5xx(answers)
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [422] * 9, [(r.status_code, r.text[:200]) for r in answers]
    for r in answers:
        if r.status_code == 422:
            assert [e["field"] for e in r.json()["result"]["errors"]] == ["hihokensha_bango"], r.text
    assert holders(settings, tid, "6004000001")[0] == 1


@covers("PUT /api/v1/koyo-hoken/insured-persons/{person_id}/my-number")
def test_concurrent_my_number_puts_lose_with_412(koyo_url, tokens):  # noqa: F811
    """Issue 29 item 13: ten PUTs of a My Number with one If-Match: one wins, the rest get the
    documented 412 (a 409 before: the version column's refusal fell to the generic handler)."""
    tid = support.tenant()
    h = bearer(tokens.user(tid))
    with httpx.Client(base_url=koyo_url, timeout=60) as c:
        p = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-1")).json()
    numbers = ["123456789018", "234567890121", "345678901234"]  # valid check digits
    answers = at_once(koyo_url, [
        lambda cl, n=numbers[i % 3]: cl.put(f"{BASE}/insured-persons/{p['id']}/my-number",
                                            headers={**h, "If-Match": f'"{p["version"]}"'}, json={"my_number": n})
        for i in range(10)])
    _no_5xx(answers)
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [412] * 9, [(r.status_code, r.text[:200]) for r in answers]
    assert all(r.json()["type"].endswith("/precondition-failed") for r in answers if r.status_code == 412)
    assert not any(n in r.text for r in answers for n in numbers)


@covers("POST /api/v1/koyo-hoken/procedures/{procedure_id}/check",
        "POST /api/v1/koyo-hoken/procedures/{procedure_id}/ready")
def test_concurrent_check_and_ready_with_one_if_match(koyo_url, tokens):  # noqa: F811
    """check / ready take If-Match like every edit: of five at once with one ETag, one wins."""
    tid = support.tenant()
    h = bearer(tokens.user(tid))
    with httpx.Client(base_url=koyo_url, timeout=60) as c:
        p = c.post(f"{BASE}/insured-persons", headers=h, json=person("js-1", hire_date="2025-04-01")).json()
        pr = c.post(f"{BASE}/procedures", headers=h, json={
            "insured_person_id": p["id"], "kind": "shikaku_shutoku", "event_date": "2025-04-01",
            "details": {"jigyosho_number": "1301-123456-7", "cause": "2"}})
        assert pr.status_code == 201, pr.text
        proc = pr.json()
    for step in ("check", "ready"):
        etag = f'"{proc["version"]}"'
        path = f"{BASE}/procedures/{proc['id']}/{step}"
        answers = at_once(koyo_url, [lambda cl, u=path, e=etag: cl.post(u, headers={**h, "If-Match": e})
                                     for _ in range(5)])
        _no_5xx(answers)
        codes = sorted(r.status_code for r in answers)
        assert codes == [200] + [412] * 4, (step, [(r.status_code, r.text[:200]) for r in answers])
        proc = next(r for r in answers if r.status_code == 200).json()
    assert proc["state"] == "ready"
