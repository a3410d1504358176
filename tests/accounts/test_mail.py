"""Issue 24.2: a published notice reaches every user of the affected tenant by mail, read back from
a real SMTP server (aiosmtpd, in this process, over TCP); a refusal is recorded and published,
a temporary failure is retried; STARTTLS and AUTH are spoken when set. Mails carry names and links,
never the notice's body (where an operator could have pasted anything)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from services.accounts import mail
from services.accounts.models import MailDelivery, messaging
from services.accounts.settings import AccountsSettings
from shared.clock import JST
from shared.ports import free_port
from tests.accounts.conftest import BASE, open_tenant, wait_for
from tests.conftest import bearer

SECRET_BODY = "賃金 312,000円 マイナンバー 123456789018"


class Inbox:
    """An SMTP server's handler: keeps what arrived; refuses `refuse-*` addresses for good (550) and
    answers `later-*` addresses 451 the first time."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.seen_later: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        local = address.split("@", 1)[0]
        if local.startswith("refuse-"):
            return "550 5.1.1 no such user"
        if local.startswith("later-") and address not in self.seen_later:
            self.seen_later.add(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def mail_settings(port: int, **over: Any) -> AccountsSettings:
    base: dict[str, Any] = {"mail_smtp_host": "127.0.0.1", "mail_smtp_port": port, "mail_smtp_starttls": False,
                            "mail_worker_interval_seconds": 0.05, "mail_retry_base_seconds": 0,
                            "mail_base_url": "https://roumu.example"}
    return AccountsSettings(**{**base, **over})


def add_user(accounts, t, login_id: str, name: str, email: str | None) -> str:
    r = accounts.post(f"{BASE}/users", headers=bearer(t.admin_token),
                      json={"login_id": login_id, "display_name": name, "roles": ["staff"], "email": email})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == email
    return str(r.json()["id"])


def publish(accounts, tokens, tenant_id: str | None, title: str) -> str:
    start = dt.datetime.now(JST) + dt.timedelta(days=40)
    r = accounts.post(f"{BASE}/notices", headers=bearer(tokens.operator()), json={
        "kind": "maintenance", "title": title, "body": SECRET_BODY, "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=3)).isoformat(), "tenant_id": tenant_id})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def deliveries(accounts, notice_id: str) -> list[MailDelivery]:
    rt = accounts.app.state.runtime
    with rt.db.sessions() as s:
        return list(s.execute(select(MailDelivery).where(MailDelivery.ref_id == notice_id)).scalars())


def test_a_maintenance_notice_reaches_every_user_of_the_tenant_by_mail(service_client, tokens, smtp):
    inbox, port = smtp
    accounts = service_client("accounts", accounts_settings=mail_settings(port))
    tag = uuid.uuid4().hex[:8]
    t = open_tenant(accounts, tokens, admin={"login_id": "admin", "display_name": "佐藤 一郎",
                                             "email": f"admin-{tag}@office.example"})
    add_user(accounts, t, "tanaka", "田中 花子", f"tanaka-{tag}@office.example")
    add_user(accounts, t, "suzuki", "鈴木 次郎", f"suzuki-{tag}@office.example")
    other = open_tenant(accounts, tokens)
    add_user(accounts, other, "yamada", "山田 三郎", f"yamada-{tag}@elsewhere.example")

    notice_id = publish(accounts, tokens, t.id, f"定期メンテナンス {tag}")
    ours = {f"{n}-{tag}@office.example": name for n, name in
            (("admin", "佐藤 一郎"), ("tanaka", "田中 花子"), ("suzuki", "鈴木 次郎"))}
    # (a notice to every tenant from another test of the session may arrive too: ours carry the tag)
    wait_for(lambda: all(inbox.to(a) for a in ours))
    for address, name in ours.items():
        [msg] = [m for m in inbox.to(address) if tag in m["Subject"]]
        assert tag in msg["Subject"] and "メンテナンスのお知らせ" in msg["Subject"]
        text = msg.get_content()
        assert f"{name} 様" in text and "https://roumu.example/" in text and "日本時間" in text
        assert "賃金" not in text and "123456789018" not in text  # the notice's body never travels
    assert not inbox.to(f"yamada-{tag}@elsewhere.example")  # another tenant's user: not addressed
    wait_for(lambda: all(d.status == "sent" for d in deliveries(accounts, notice_id)))
    assert {d.address for d in deliveries(accounts, notice_id)} == set(ours)

    log = accounts.get(f"{BASE}/operations/mail-deliveries?tenant_id={t.id}&status=sent",
                       headers=bearer(tokens.operator()))
    assert log.status_code == 200 and {d["address"] for d in log.json()["items"]} >= set(ours)
    assert accounts.get(f"{BASE}/operations/mail-deliveries", headers=bearer(t.admin_token)).status_code == 403

    # The event again (a redelivery): nothing queued twice.
    with accounts.app.state.runtime.db.transaction() as s:
        assert mail.queue_notice(s, notice_id, mail_settings(port), dt.datetime.now(dt.UTC)) == 0


def test_a_refusal_is_recorded_and_published_and_a_temporary_failure_is_retried(service_client, tokens, smtp):
    inbox, port = smtp
    accounts = service_client("accounts", accounts_settings=mail_settings(port))
    tag = uuid.uuid4().hex[:8]
    t = open_tenant(accounts, tokens)
    refused_id = add_user(accounts, t, "gone", "退職 済", f"refuse-{tag}@office.example")
    add_user(accounts, t, "later", "後藤 四郎", f"later-{tag}@office.example")
    notice_id = publish(accounts, tokens, t.id, f"メンテナンス {tag}")

    def settled() -> dict[str, MailDelivery] | None:
        ds = {d.address.split("-")[0]: d for d in deliveries(accounts, notice_id)}
        return ds if len(ds) == 2 and all(d.status != "pending" for d in ds.values()) else None

    ds = wait_for(settled)
    assert (ds["refuse"].status, ds["refuse"].attempts) == ("refused", 1) and "550" in (ds["refuse"].last_error or "")
    assert (ds["later"].status, ds["later"].attempts) == ("sent", 2)
    assert len([m for m in inbox.to(f"later-{tag}@office.example") if tag in m["Subject"]]) == 1
    assert not inbox.to(f"refuse-{tag}@office.example")

    with accounts.app.state.runtime.db.sessions() as s:
        payloads = s.execute(select(messaging.outbox.c.payload)).scalars().all()
    [event] = [p for p in payloads if p["type"] == "roumu.accounts.mail.undelivered"
               and p["subject"].get("notice_id") == notice_id]
    assert event["tenant_id"] == t.id and event["subject"]["user_id"] == refused_id
    assert event["data"] == {"kind": "notice", "status": "refused", "attempts": 1, "smtp_code": 550}
    assert "refuse-" not in str(event)  # no address in events


def test_no_server_means_retries_then_failed_and_recorded(service_client, tokens):
    port = free_port()  # nothing listens there
    accounts = service_client("accounts", accounts_settings=mail_settings(port, mail_max_attempts=2))
    t = open_tenant(accounts, tokens, admin={"login_id": "admin", "display_name": "佐藤 一郎",
                                             "email": f"a-{uuid.uuid4().hex[:6]}@office.example"})
    notice_id = publish(accounts, tokens, t.id, "接続できない場合")
    [d] = wait_for(lambda: [d for d in deliveries(accounts, notice_id) if d.status == "failed"])
    assert d.attempts == 2 and "unreachable" in (d.last_error or "")


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_and_auth_are_spoken_when_set(service_client, tokens, tmp_path):
    cert, key = _certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins: list[tuple[str, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"roumu" and auth_data.password == b"s3cret-pass"
        logins.append((auth_data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=tls, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        cfg = mail_settings(controller.port, mail_smtp_starttls=True, mail_smtp_ca_file=str(cert),
                            mail_smtp_username="roumu", mail_smtp_password="s3cret-pass")
        accounts = service_client("accounts", accounts_settings=cfg)
        address = f"tls-{uuid.uuid4().hex[:6]}@office.example"
        t = open_tenant(accounts, tokens, admin={"login_id": "admin", "display_name": "佐藤 一郎", "email": address})
        publish(accounts, tokens, t.id, "TLS")
        wait_for(lambda: inbox.to(address))
        assert logins and all(user == "roumu" and over_tls for user, over_tls in logins)
    finally:
        controller.stop()


def efiling_event(type_: str, tenant_id: str, jigyosho_id: str, **data: Any):
    from shared.events import Actor, EventEnvelope

    body = {"procedure_code": "4950008680033000", "status": "correction_requested", "arrive_id": "1234567890123456",
            "notice_sub_id": 1, "correct_type": None, "correction_deadline": "2026-02-13", **data}
    return EventEnvelope(type=type_, tenant_id=tenant_id, actor=Actor(kind="service", id="efiling"),
                         subject={"filing_id": str(uuid.uuid4()), "tenant_id": tenant_id, "jigyosho_id": jigyosho_id},
                         data=body)


def test_e_gov_events_reach_the_people_who_can_see_that_filing(service_client, tokens, smtp, settings):
    """補正 (and 公文書, failures) by mail, to the administrators and to staff holding 電子申請 for
    that 事業所 — nobody else; progress nobody must act on sends nothing. The events are published
    on NATS as efiling publishes them (checked against their schemas)."""
    from shared.event_schemas import EventSchemas
    from tests.accounts.conftest import add_jigyosho
    from tests.webhooks.support import publish as publish_events

    inbox, port = smtp
    accounts = service_client("accounts", accounts_settings=mail_settings(port))
    tag = uuid.uuid4().hex[:8]
    t = open_tenant(accounts, tokens, admin={"login_id": "admin", "display_name": "佐藤 一郎",
                                             "email": f"admin-{tag}@office.example"})
    a = add_jigyosho(accounts, t, "株式会社山田製作所")
    b = add_jigyosho(accounts, t, "株式会社川田商店")

    def staff(login: str, menus: dict[str, str], ids: list[str]) -> str:
        address = f"{login}-{tag}@office.example"
        r = accounts.post(f"{BASE}/users", headers=bearer(t.admin_token), json={
            "login_id": login, "display_name": login, "roles": ["staff"], "email": address,
            "grants": {"menus": menus, "jigyosho": {"all": False, "ids": ids}}})
        assert r.status_code == 201, r.text
        return address

    on_a = staff("efile-a", {"efiling": "read"}, [a])
    koyo_only = staff("koyo-a", {"koyo_hoken": "write"}, [a])
    on_b = staff("efile-b", {"efiling": "write"}, [b])

    correction = efiling_event("roumu.efiling.filing.correction_requested", t.id, a)
    progress = efiling_event("roumu.efiling.filing.status_changed", t.id, a)
    progress = progress.model_copy(update={"data": {
        "procedure_code": "4950008680033000", "status": "under_review", "arrive_id": "1234567890123456",
        "egov_status": "審査中", "previous_status": "arrived"}})
    for e in (progress, correction):
        assert EventSchemas().errors(e.model_dump(mode="json")) == [], e.type
    # In this order on one durable: when the correction's mails are out, the progress was handled.
    publish_events(settings, progress, correction)

    wait_for(lambda: inbox.to(f"admin-{tag}@office.example") and inbox.to(on_a))
    for address in (f"admin-{tag}@office.example", on_a):
        [msg] = inbox.to(address)
        assert msg["Subject"] == "【Roumu】補正の通知が届きました: 株式会社山田製作所"
        text = msg.get_content()
        assert "到達番号: 1234567890123456" in text and "補正期限: 2026-02-13" in text
    # The worker has passed since (the one mail each arrived): the others were never queued.
    rt = accounts.app.state.runtime
    with rt.db.sessions() as s:
        queued = s.execute(select(MailDelivery.address).where(MailDelivery.kind == "efiling",
                                                              MailDelivery.tenant_id == t.id)).scalars().all()
    assert sorted(queued) == sorted([f"admin-{tag}@office.example", on_a])
    assert not inbox.to(koyo_only) and not inbox.to(on_b)


def test_the_daily_digest_counts_deadlines_per_jigyosho_each_user_can_see(service_client, tokens, smtp, settings):
    """Deadlines come from koyo_hoken over HTTP (accounts' service token); each user gets the counts
    within their chosen days for the 事業所 they can see — names of 事業所 and counts, never a person."""
    from fastapi.testclient import TestClient

    from services.accounts.deadlines import KoyoDeadlines
    from tests.accounts.conftest import add_jigyosho
    from tests.koyo_hoken.support import frozen, person

    inbox, port = smtp
    koyo = service_client("koyo_hoken", clock=frozen(2025, 5, 8))
    deadlines = KoyoDeadlines("http://testserver", settings.keys_dir, http=TestClient(koyo.app))
    cfg = mail_settings(port, mail_digest_hour=0)
    accounts = service_client("accounts", accounts_settings=cfg, deadlines=deadlines)
    tag = uuid.uuid4().hex[:8]
    t = open_tenant(accounts, tokens, admin={"login_id": "admin", "display_name": "佐藤 一郎",
                                             "email": f"admin-{tag}@office.example"})
    a = add_jigyosho(accounts, t, "株式会社山田製作所")
    b = add_jigyosho(accounts, t, "株式会社川田商店")
    admin = accounts.get(f"{BASE}/users/{t.admin_id}", headers=bearer(t.admin_token))
    body = {k: admin.json()[k] for k in ("login_id", "display_name", "roles", "grants")}
    r = accounts.put(f"{BASE}/users/{t.admin_id}", json={**body, "deadline_digest_days": 40},
                     headers={**bearer(t.admin_token), "If-Match": admin.headers["etag"]})
    assert r.status_code == 200 and r.json()["deadline_digest_days"] == 40 and r.json()["email"], r.text

    def staff(login: str, menus: dict[str, str], days: int) -> str:
        address = f"{login}-{tag}@office.example"
        r = accounts.post(f"{BASE}/users", headers=bearer(t.admin_token), json={
            "login_id": login, "display_name": f"{login} さん", "roles": ["staff"], "email": address,
            "deadline_digest_days": days, "grants": {"menus": menus, "jigyosho": {"all": False, "ids": [a]}}})
        assert r.status_code == 201, r.text
        return address

    on_a = staff("koyo-a", {"koyo_hoken": "read"}, 7)
    no_koyo = staff("efile-a", {"efiling": "read"}, 7)

    # koyo_hoken (on 2025-05-08): 取得届 due 5/12 at each 事業所 (4 days left), one due 6/10 at 山田 (33).
    admin_h = bearer(tokens.user(t.id, t.admin_id, ("tenant_admin",)))
    for jid, hire, name in ((a, "2025-04-15", "山田"), (b, "2025-04-15", "川田"), (a, "2025-05-01", "海野")):
        wait_for(lambda jid=jid, hire=hire, name=name: koyo.post(
            "/api/v1/koyo-hoken/insured-persons", headers=admin_h,
            json=person(jid, hire_date=hire, family_name=name)).status_code == 201)

    # The worker ran its pass of the day at start, before these users existed: run the same pass now.
    queued, complete = mail.queue_digests(accounts.app.state.runtime.transaction, cfg, deadlines,
                                          dt.datetime.now(dt.UTC))
    assert complete and queued == 2

    wait_for(lambda: inbox.to(f"admin-{tag}@office.example") and inbox.to(on_a))
    [to_admin] = inbox.to(f"admin-{tag}@office.example")
    text = to_admin.get_content()
    assert "40日以内 3 件" in to_admin["Subject"]
    assert "・株式会社山田製作所: 40日以内 2 件" in text and "・株式会社川田商店: 40日以内 1 件" in text
    [to_staff] = inbox.to(on_a)
    staff_text = to_staff.get_content()
    assert "・株式会社山田製作所: 7日以内 1 件" in staff_text and "川田商店" not in staff_text
    for t_ in (text, staff_text):
        assert "山田 太郎" not in t_ and "海野" not in t_ and "300000" not in t_
    assert not inbox.to(no_koyo)
    # Once a day: the same day again queues nothing.
    assert mail.queue_digests(accounts.app.state.runtime.transaction, cfg, deadlines, dt.datetime.now(dt.UTC)) \
        == (0, True)
