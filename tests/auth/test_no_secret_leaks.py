"""A password, a TOTP secret and a recovery code, planted and pushed through success and failure
paths, appear in no log line, no published event and no error body (ASVS 7.1.1)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from services.auth.models import messaging
from services.auth.rules import totp as rules
from tests.auth.conftest import API, bearer, strong


def test_planted_secrets_are_nowhere(tenant, clock, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    password = strong("planted")
    tenant.add_user("leak", password)
    token = tenant.token("leak", password)["access_token"]
    enrolment = tenant.client.post(f"{API}/me/totp/enrolment", headers=bearer(token)).json()
    secret = enrolment["secret"]
    code = rules.code_at(secret, rules.step_at(clock.now()))
    recovery = tenant.client.post(f"{API}/me/totp/enrolment/confirm", json={"code": code},
                                  headers=bearer(token)).json()["recovery_codes"]
    planted = [password, secret, *recovery]

    errors: list[str] = []

    def keep(r):
        if r.status_code >= 400:
            errors.append(r.text)
        return r

    keep(tenant.login("leak", "wrong-" + password))
    keep(tenant.login(password, password))  # the password typed into the login id field
    keep(tenant.client.post(f"{API}/me/totp/enrolment/confirm", json={"code": code}, headers=bearer(token)))
    challenge = tenant.login("leak", password).json()["challenge"]
    keep(tenant.client.post(f"{API}/login/totp", json={"challenge": challenge, "code": code}))  # replay
    keep(tenant.client.post(f"{API}/login/totp", json={"challenge": challenge, "recovery_code": recovery[0]}))
    keep(tenant.client.post(f"{API}/login/totp", json={"challenge": challenge, "recovery_code": recovery[0]}))
    keep(tenant.client.post(f"{API}/login/totp", json={"challenge": challenge, "recovery_code": secret}))
    keep(tenant.client.post(f"{API}/me/password", headers=bearer(token),
                            json={"current_password": password, "new_password": password}))
    keep(tenant.client.post(f"{API}/me/password", headers=bearer(token),
                            json={"current_password": secret, "new_password": recovery[1]}))
    clock.advance(timedelta(days=2))
    keep(tenant.client.post(f"{API}/login/password", json={"challenge": challenge, "new_password": password}))
    keep(tenant.client.post(f"{API}/login", json={"tenant_code": tenant.code, "login_id": "leak",
                                                  "password": password, "extra": secret}))  # 422 validation
    assert len(errors) >= 10

    with tenant.rt.db.transaction() as s:
        published = [str(p) for p in s.execute(select(messaging.outbox.c.payload)).scalars()]
    logs = [caplog.text] + [str(r.__dict__) for r in caplog.records]
    out, err = capfd.readouterr()
    haystacks = {"error bodies": errors, "events": published, "logs": [*logs, out, err]}
    for where, texts in haystacks.items():
        for needle in planted:
            assert not any(needle in t for t in texts), f"a planted secret appears in {where}"
            assert not any(needle.replace("-", "") in t for t in texts), f"a planted secret appears in {where}"
    assert published and errors
