"""Secrets never leave in plain text (SERVICE-SPEC "Protection"; ASVS 7.1.1/7.1.2, 2.10, 8.3).

Known My Numbers, passwords, a TOTP secret and tokens are planted through the API of services
running with their relays (events reach the real JetStream stream); then every log record, every
event in the stream, every answer (the error bodies included) and every cell of every table of
every service database is searched for them in plain text: none may be found."""

from __future__ import annotations

import asyncio
import io
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from nats.js.api import ConsumerConfig

from shared.logging import JsonFormatter
from shared.nats_auth import ADMIN
from shared.nats_client import NatsAccess, connect
from shared.settings import CommonSettings
from tests.conftest import Tokens
from tests.security.common import FIGURES, all_tables_text, deep_text, services_with_contract
from tests.security.conftest import TENANT_SERVICES
from tests.security.world import PASSWORD, World, build_world, close_clients, open_clients, person_body
from tests.services.grants import GrantSeeder


def my_number(body11: str) -> str:
    """A valid 個人番号: eleven digits and the check digit (総務省令第85号 5条)."""
    digits = [int(c) for c in reversed(body11)]
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(digits, start=1))
    rest = total % 11
    return body11 + str(0 if rest <= 1 else 11 - rest)


@pytest.fixture(scope="module")
def live_world(settings: CommonSettings, tokens: Tokens,
               sec_grants: GrantSeeder) -> Iterator[tuple[World, io.StringIO]]:
    clients = open_clients(settings, TENANT_SERVICES, background=True)
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(JsonFormatter("security-scan"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # everything any service would log at any level
    try:
        yield build_world(settings, tokens, sec_grants, clients), logs
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        close_clients(clients)


def test_the_scan_looks_inside_blobs() -> None:
    """The cell scan finds a number however a blob wraps it: in a ZIP member, gzip, base64 (standard
    and url-safe), JSON in a column, and those nested — the shapes an e-filing package is kept in."""
    import base64
    import gzip
    import json
    import zipfile

    number = my_number("12345678901")

    def zipped(data: bytes) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("4950008680033000/form.xml", data)
        return buf.getvalue()

    xml = f"<DataRoot><個人番号>{number}</個人番号></DataRoot>".encode()
    shapes = {
        "zip": zipped(xml),
        "gzip": gzip.compress(xml),
        "base64 of a zip": base64.b64encode(zipped(xml)).decode(),
        "url-safe base64": base64.urlsafe_b64encode(gzip.compress(xml)).decode(),
        "json holding base64 of a zip": {"send_file": {"file_data": base64.b64encode(zipped(xml)).decode()}},
        "json text in a column": json.dumps({"file_data": base64.b64encode(zipped(zipped(xml))).decode()}),
    }
    for name, value in shapes.items():
        assert number not in str(value), name  # not visible without unpacking
        assert number in deep_text(value), f"the scan missed a number in {name}"
    assert number not in deep_text(zipped(xml.replace(number.encode(), b"")))


def test_planted_secrets_appear_nowhere_in_plain_text(live_world: tuple[World, io.StringIO]) -> None:
    w, logs = live_world
    secrets: dict[str, str] = {"the world's password": PASSWORD}
    answers: list[str] = []

    def keep(r):  # every answer is scanned too
        answers.append(r.text)
        return r

    # My Numbers: registered, re-registered, and sent where they are refused.
    numbers = [my_number(f"{uuid.uuid4().int % 10**11:011d}") for _ in range(3)]
    for i, number in enumerate(numbers):
        secrets[f"My Number {i}"] = number
    p = keep(w.call("koyo_hoken", "post", "/api/v1/koyo-hoken/insured-persons", "a_admin", json=person_body(w.j1)))
    assert p.status_code == 201, p.text
    pid, version = p.json()["id"], p.json()["version"]
    r = keep(w.call("koyo_hoken", "put", f"/api/v1/koyo-hoken/insured-persons/{pid}/my-number", "a_admin",
                    json={"my_number": numbers[0]}, headers={"If-Match": f'"{version}"'}))
    assert r.status_code == 200, r.text
    keep(w.call("koyo_hoken", "put", f"/api/v1/koyo-hoken/insured-persons/{uuid.uuid4()}/my-number", "a_admin",
                json={"my_number": numbers[1]}, headers={"If-Match": '"1"'}))
    keep(w.call("koyo_hoken", "put", f"/api/v1/koyo-hoken/insured-persons/{pid}/my-number", "a_admin",
                json={"my_number": numbers[2][:-1] + str((int(numbers[2][-1]) + 1) % 10)},
                headers={"If-Match": f'"{version}"'}))
    keep(w.call("koyo_hoken", "post", "/api/v1/koyo-hoken/insured-persons", "a_admin",
                json={**person_body(w.j1), "my_number": numbers[1]}))
    keep(w.call("koyo_hoken", "get", f"/api/v1/koyo-hoken/insured-persons/{pid}", "a_staff_j2"))

    # Passwords: a change, an administrator's reset, a refused weak one, a failed login.
    new_password = f"planted-{uuid.uuid4().hex}-新しい"
    temporary = f"temporary-{uuid.uuid4().hex}-仮"
    wrong = f"wrong-{uuid.uuid4().hex}"
    secrets.update({"new password": new_password, "temporary password": temporary, "wrong password": wrong})
    keep(w.call("auth", "post", "/api/v1/auth/me/password", "a_staff_j2",
                json={"current_password": PASSWORD, "new_password": new_password}))
    keep(w.call("auth", "post", "/api/v1/auth/me/password", "a_staff_j2",
                json={"current_password": wrong, "new_password": wrong}))
    keep(w.call("auth", "post", f"/api/v1/auth/users/{w.principals['a_nomenu'].user_id}/password-reset", "a_admin",
                json={"temporary_password": temporary}))
    keep(w.call("auth", "post", "/api/v1/auth/login",
                json={"tenant_code": w.tenant_a_code, "login_id": "admin", "password": wrong}))

    # A TOTP secret, and tokens (access, refresh, a partner client's secret).
    enrol = keep(w.call("auth", "post", "/api/v1/auth/me/totp/enrolment", "a_staff_j1"))
    if enrol.status_code == 200:
        secrets["TOTP secret"] = enrol.json()["secret"]
    login = keep(w.call("auth", "post", "/api/v1/auth/login",
                        json={"tenant_code": w.tenant_a_code, "login_id": "admin", "password": PASSWORD}))
    if login.status_code == 200:
        secrets["access token"] = login.json()["access_token"]
        if login.json().get("refresh_token"):
            secrets["refresh token"] = login.json()["refresh_token"]
    partner = keep(w.call("auth", "post", "/api/v1/auth/partner-clients", "a_admin",
                          json={"name": "planted", "scopes": ["employees:read"]}))
    if partner.status_code == 201:
        secrets["partner client secret"] = partner.json()["client_secret"]
    # An office certificate (PKCS#12): its password, and a line of its private key in PEM.
    if "efiling" in w.clients:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        from tests.services.efiling.certs import make_p12

        p12_password = f"p12-planted-{uuid.uuid4().hex}"
        p12, _ = make_p12(password=p12_password)
        key = pkcs12.load_key_and_certificates(p12, p12_password.encode())[0]
        assert key is not None
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode().splitlines()
        secrets.update({"PKCS#12 password": p12_password, "office private key (a PEM line)": pem[len(pem) // 2]})
        uploaded = keep(w.call("efiling", "post", "/api/v1/efiling/certificates", "a_admin",
                               files={"file": ("planted.p12", p12, "application/x-pkcs12")},
                               data={"password": p12_password, "label": "planted"}))
        assert uploaded.status_code == 201, uploaded.text
        keep(w.call("efiling", "post", "/api/v1/efiling/certificates", "a_admin",  # a wrong password, refused
                    files={"file": ("planted.p12", p12, "application/x-pkcs12")},
                    data={"password": p12_password + "-wrong", "label": "planted"}))
    FIGURES["secrets: values planted"] += len(secrets)

    events = drain_and_read_stream(w)
    FIGURES["secrets: events in the stream scanned"] += len(events)
    cells = [(f"{s}:{where}", text) for s in services_with_contract() for where, text in all_tables_text(w.settings, s)]
    FIGURES["secrets: database cells scanned"] += len(cells)
    log_text = logs.getvalue()
    FIGURES["secrets: log bytes scanned"] += len(log_text)
    FIGURES["secrets: answers scanned"] += len(answers)

    # The answers that hand a secret to its owner by design are not "found": the enrolment answers
    # the TOTP secret, the login the tokens, the partner registration its secret (shown once).
    by_design = {"TOTP secret": enrol.text, "access token": login.text, "refresh token": login.text,
                 "partner client secret": partner.text}
    found = []
    for name, value in secrets.items():
        for i, text in enumerate(answers):
            if value in text and by_design.get(name) != text:
                found.append(f"{name} in answer #{i}: {text[:200]}")
        found += [f"{name} in the event {e[:200]}" for e in events if value in e]
        found += [f"{name} in {where}" for where, text in cells if value in text]
        if value in log_text:
            at = log_text.index(value)
            found.append(f"{name} in the logs: …{log_text[max(0, at - 200):at + 50]}…")
    assert not found, "plain-text secrets found:\n" + "\n".join(found[:50])


def drain_and_read_stream(w: World) -> list[str]:
    """Wait until every service's outbox is published, then read every message of the stream."""
    from sqlalchemy import create_engine, text

    deadline = time.monotonic() + 60
    for service in TENANT_SERVICES:
        engine = create_engine(w.settings.database_url(service))
        try:
            while True:
                with engine.connect() as conn:
                    left = conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one()
                if not left:
                    break
                assert time.monotonic() < deadline, f"{service}: {left} events never left the outbox"
                time.sleep(0.1)
        finally:
            engine.dispose()
    return asyncio.run(_read_stream(w.settings.nats_access(ADMIN), w.settings.nats_stream))


async def _read_stream(access: NatsAccess, stream: str) -> list[str]:
    nc = await connect(access, "security-scan", max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        sub = await js.pull_subscribe(">", stream=stream, config=ConsumerConfig(inactive_threshold=10))
        out: list[str] = []
        while len(out) < info.state.messages:
            try:
                msgs = await sub.fetch(500, timeout=2)
            except Exception:
                break
            for m in msgs:
                out.append(m.data.decode("utf-8", "replace") + " " + str(m.headers or ""))
                await m.ack()
        return out
    finally:
        await nc.close()
