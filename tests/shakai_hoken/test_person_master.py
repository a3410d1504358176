"""One person, two insurances: a hire registered once in koyo_hoken (雇用保険) reaches shakai_hoken
through koyo_hoken's event on the real NATS stream, and can then be enrolled in 社会保険 by its id —
without shakai_hoken ever holding the name or the My Number (docs/architecture.md)."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import inspect

from services.shakai_hoken.models import Base
from tests.conftest import bearer
from tests.koyo_hoken.support import MY_NUMBER
from tests.koyo_hoken.support import person as koyo_person
from tests.shakai_hoken.support import BASE, PersonSeeder, office_tokyo


def test_a_koyo_hoken_hire_is_enrolled_in_shakai_hoken(service_client, tokens, jigyosho, persons: PersonSeeder):
    tid = str(uuid.uuid4())
    jigyosho.open(tid, "js-1", services=("koyo_hoken", "shakai_hoken"))
    koyo = service_client("koyo_hoken")
    shaho = service_client("shakai_hoken")
    h = bearer(tokens.user(tid))
    assert shaho.put(f"{BASE}/offices/js-1", headers=h, json=office_tokyo()).status_code == 201
    hired = koyo.post("/api/v1/koyo-hoken/insured-persons", headers=h,
                      json=koyo_person("js-1", hire_date="2026-04-01", my_number=MY_NUMBER))
    assert hired.status_code == 201, hired.text
    body = {"insured_person_id": hired.json()["id"], "birth_date": "1990-04-01", "acquired_on": "2026-04-01",
            "remuneration": 300_000}
    # Until shakai_hoken's consumer has applied koyo_hoken's event the person is unknown (404);
    # bounded by attempts, not by a time assertion.
    r = shaho.post(f"{BASE}/enrolments", headers=h, json=body)
    for _ in range(300):
        if r.status_code != 404:
            break
        time.sleep(0.1)
        r = shaho.post(f"{BASE}/enrolments", headers=h, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["jigyosho_id"] == "js-1" and r.json()["current"]["kenpo_grade"] == 22
    # Nothing of the person's identity is in shakai_hoken's tables or events.
    columns = {c["name"] for t in Base.metadata.tables for c in inspect(persons.db.engine).get_columns(t)}
    assert not {"family_name", "given_name", "my_number_sealed", "my_number", "kiso_nenkin_bango"} & columns
    assert MY_NUMBER not in str(persons.events(tid)) and "山田" not in str(persons.events(tid))
