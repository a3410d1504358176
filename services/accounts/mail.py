"""Mail to users (issue 24.2): お知らせ by e-mail, the sheet's 告知方法 メール.

* roumu.accounts.notice.published (accounts' own event, through its durable consumer
  "notice-mail") queues one delivery per active user with an address in every affected tenant
  (the notice's tenant, or every active tenant): the delivery log, `mail_deliveries`. A redelivered
  event queues nothing twice (unique kind + notice + user).
* The mail worker (a background task of the app) sends due deliveries over SMTP (STARTTLS and
  AUTH when set, ROUMU_ACCOUNTS_MAIL_*). A 4xx answer or no connection is retried with doubling
  delays up to MAIL_MAX_ATTEMPTS, then `failed`; a 5xx answer is `refused` at once. Both are kept
  in the log and published as roumu.accounts.mail.undelivered, so the tenant's audit log and the
  operator see them: nothing is dropped silently.

Addresses stay in accounts (the only holder of users' records): no event carries one."""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.accounts import events
from services.accounts.deadlines import DeadlinesUnavailable, KoyoDeadlines
from services.accounts.models import Jigyosho, MailDelivery, Notice, Tenant, User, messaging
from services.accounts.rules import mail as rules
from services.accounts.settings import AccountsSettings
from shared.clock import JST, Clock
from shared.events import EventEnvelope

log = logging.getLogger("roumu.accounts.mail")

PENDING, SENT, REFUSED, FAILED = "pending", "sent", "refused", "failed"
BATCH = 50
# A claimed delivery is not picked again for this long (another replica's worker, or ours crashed).
LEASE = timedelta(minutes=5)


def notice_handler(cfg: AccountsSettings, clock: Clock) -> Callable[[Session, EventEnvelope], None]:
    def handle(session: Session, event: EventEnvelope) -> None:
        queue_notice(session, str(event.subject["notice_id"]), cfg, clock.now())

    return handle


def _recipients(session: Session, tenant_id: str | None) -> Sequence[tuple[Tenant, User]]:
    q = (select(Tenant, User).join(User, User.tenant_id == Tenant.id)
         .where(Tenant.status == "active", User.status == "active", User.email.is_not(None)))
    if tenant_id is not None:
        q = q.where(Tenant.id == tenant_id)
    return [(row[0], row[1]) for row in session.execute(q.order_by(Tenant.id, User.id))]


def queue_notice(session: Session, notice_id: str, cfg: AccountsSettings, now: datetime) -> int:
    notice = session.get(Notice, notice_id)
    if notice is None:
        return 0
    done = set(session.execute(select(MailDelivery.user_id).where(
        MailDelivery.kind == "notice", MailDelivery.ref_id == notice_id)).scalars())
    n = 0
    for tenant, user in _recipients(session, notice.tenant_id):
        if user.id in done or not user.email:
            continue
        mail = rules.notice_mail(user.display_name, tenant.name, notice.kind, notice.title, notice.starts_at,
                                 notice.ends_at, notice.emergency, cfg.mail_base_url)
        session.add(MailDelivery(id=str(uuid.uuid4()), tenant_id=tenant.id, user_id=user.id, kind="notice",
                                 ref_id=notice_id, address=user.email, subject=mail.subject, body=mail.body,
                                 status=PENDING, attempts=0, next_attempt_at=now, created_at=now))
        n += 1
    return n


def efiling_handler(cfg: AccountsSettings, clock: Clock) -> Callable[[Session, EventEnvelope], None]:
    def handle(session: Session, event: EventEnvelope) -> None:
        queue_efiling(session, event, cfg, clock.now())

    return handle


def queue_efiling(session: Session, event: EventEnvelope, cfg: AccountsSettings, now: datetime) -> int:
    """An e-Gov event a person must know of (補正, 公文書, a failure): one mail to each user of the
    tenant who can see that 事業所's filings. `ref_id` is the event's id (one mail per event)."""
    title = rules.efiling_mail_title(event.type, str(event.data.get("status") or ""))
    jigyosho_id = str(event.subject.get("jigyosho_id") or "")
    if title is None or not event.tenant_id:
        return 0
    office = session.get(Jigyosho, jigyosho_id)
    if office is None or office.tenant_id != event.tenant_id:
        return 0  # not (or no longer) a 事業所 of this tenant: nobody to tell about it
    done = set(session.execute(select(MailDelivery.user_id).where(
        MailDelivery.kind == "efiling", MailDelivery.ref_id == event.id)).scalars())
    deadline = event.data.get("correction_deadline")
    n = 0
    for tenant, user in _recipients(session, event.tenant_id):
        if user.id in done or not user.email or not rules.sees_filing(
                list(user.roles), dict(user.menus or {}), user.jigyosho_all, list(user.jigyosho_ids or []), office.id):
            continue
        mail = rules.efiling_mail(user.display_name, tenant.name, title, office.name,
                                  str(event.data.get("procedure_code", "")), event.data.get("arrive_id"),
                                  str(deadline) if deadline else None, cfg.mail_base_url)
        session.add(MailDelivery(id=str(uuid.uuid4()), tenant_id=tenant.id, user_id=user.id, kind="efiling",
                                 ref_id=event.id, address=user.email, subject=mail.subject, body=mail.body,
                                 status=PENDING, attempts=0, next_attempt_at=now, created_at=now))
        n += 1
    return n


def queue_digests(session_factory: Callable[[], Any], cfg: AccountsSettings, koyo: KoyoDeadlines,
                  now: datetime) -> tuple[int, bool]:
    """The daily deadline digest, once a day per user (kind "digest", ref_id the JST date), from
    `MAIL_DIGEST_HOUR` Japan time: to each active user with an address and a chosen number of days,
    the count of 雇用保険 deadlines due within them (and overdue) per 事業所 they can see. Nothing
    due: no mail. Answers (mails queued, every tenant done); a tenant whose deadlines could not be
    read (koyo_hoken unreachable) is tried again at the worker's next pass."""
    local = now.astimezone(JST)
    if local.hour < cfg.mail_digest_hour:
        return 0, False
    today, ref = local.date(), local.date().isoformat()
    with session_factory() as session:
        wanted: dict[str, list[tuple[Tenant, User]]] = {}
        for tenant, user in _recipients(session, None):
            if user.deadline_digest_days:
                wanted.setdefault(tenant.id, []).append((tenant, user))
        done = set(session.execute(select(MailDelivery.user_id).where(
            MailDelivery.kind == "digest", MailDelivery.ref_id == ref)).scalars())
    n, complete = 0, True
    for tenant_id, people in wanted.items():
        people = [(t, u) for t, u in people if u.id not in done]
        if not people:
            continue
        horizon = max(int(u.deadline_digest_days or 0) for _, u in people)
        try:
            items = koyo.due_by(tenant_id, today + timedelta(days=horizon))
        except DeadlinesUnavailable as exc:
            log.warning("deadline digest: koyo_hoken unavailable", extra={"tenant_id": tenant_id, "error": str(exc)})
            complete = False
            continue
        with session_factory() as session:
            names = {j.id: j.name for j in session.execute(
                select(Jigyosho).where(Jigyosho.tenant_id == tenant_id)).scalars()}
            for tenant, user in people:
                days = int(user.deadline_digest_days or 0)

                def visible(jid: str, u: User = user, known: dict[str, str] = names) -> bool:
                    return jid in known and rules.sees_menu(list(u.roles), dict(u.menus or {}), u.jigyosho_all,
                                                            list(u.jigyosho_ids or []), "koyo_hoken", jid)

                counts = rules.digest_counts(items, days, visible)
                if not counts or not user.email:
                    continue
                rows = sorted(((names[j], o, c) for j, (o, c) in counts.items()), key=lambda r: r[0])
                mail = rules.digest_mail(user.display_name, tenant.name, today, days, rows, cfg.mail_base_url)
                session.add(MailDelivery(id=str(uuid.uuid4()), tenant_id=tenant.id, user_id=user.id, kind="digest",
                                         ref_id=ref, address=user.email, subject=mail.subject, body=mail.body,
                                         status=PENDING, attempts=0, next_attempt_at=now, created_at=now))
                n += 1
    return n, complete


# --- sending ----------------------------------------------------------------------------------

class _Unreachable(Exception):
    """No session with the server (connect, STARTTLS, AUTH): nobody's fault but ours or the
    network's, so every delivery of the batch is retried, none refused."""


def _connect(cfg: AccountsSettings) -> smtplib.SMTP:
    assert cfg.mail_smtp_host
    try:
        smtp = smtplib.SMTP(cfg.mail_smtp_host, cfg.mail_smtp_port, timeout=cfg.mail_smtp_timeout_seconds)
        try:
            smtp.ehlo()
            if cfg.mail_smtp_starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=cfg.mail_smtp_ca_file))
                smtp.ehlo()
            if cfg.mail_smtp_username:
                password = cfg.mail_smtp_password.get_secret_value() if cfg.mail_smtp_password else ""
                smtp.login(cfg.mail_smtp_username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp
    except (OSError, smtplib.SMTPException) as exc:
        raise _Unreachable(type(exc).__name__ + (f" {exc.smtp_code}" if isinstance(
            exc, smtplib.SMTPResponseException) else "")) from exc


def _message(cfg: AccountsSettings, d: MailDelivery, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.mail_from
    msg["To"] = d.address
    msg["Subject"] = d.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=d.id, domain="roumu.invalid")
    msg.set_content(d.body, charset="utf-8")
    return msg


def _send_one(smtp: smtplib.SMTP, cfg: AccountsSettings, d: MailDelivery, now: datetime) -> tuple[int | None, str]:
    """(None, "") when the server took it, else the SMTP code (None: no answer) and a short reason."""
    try:
        refused = smtp.send_message(_message(cfg, d, now))
    except smtplib.SMTPSenderRefused as exc:
        # Our sender or session is refused (configuration, policy): not the addressee's fault.
        return None, f"sender refused: {exc.smtp_code}"
    except smtplib.SMTPRecipientsRefused as exc:
        code = next(iter(exc.recipients.values()), (550, b""))[0]
        return int(code), f"recipient refused: {code}"
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code, f"{type(exc).__name__} {exc.smtp_code}"
    except (OSError, smtplib.SMTPException) as exc:
        return None, type(exc).__name__
    if refused:
        code = next(iter(refused.values()))[0]
        return code, f"recipient refused: {code}"
    return None, ""


def _claim(session: Session, now: datetime) -> list[MailDelivery]:
    rows = list(session.execute(select(MailDelivery).where(
        MailDelivery.status == PENDING, MailDelivery.next_attempt_at <= now)
        .order_by(MailDelivery.next_attempt_at).limit(BATCH)).scalars())
    claimed = []
    for d in rows:
        got = session.execute(update(MailDelivery).where(
            MailDelivery.id == d.id, MailDelivery.status == PENDING, MailDelivery.next_attempt_at == d.next_attempt_at)
            .values(next_attempt_at=now + LEASE))
        if got.rowcount:  # type: ignore[attr-defined]
            claimed.append(d.id)
    return [session.get(MailDelivery, i) for i in claimed]  # type: ignore[misc]


def _outcome(session: Session, cfg: AccountsSettings, d: MailDelivery, code: int | None, reason: str,
             now: datetime) -> str:
    d.attempts += 1
    if not reason:
        d.status, d.sent_at, d.last_error = SENT, now, None
        return SENT
    d.last_error = reason[:500]
    if rules.is_permanent(code):
        d.status = REFUSED
    elif d.attempts >= cfg.mail_max_attempts:
        d.status = FAILED
    else:
        delay = rules.next_attempt_delay(d.attempts, cfg.mail_retry_base_seconds, cfg.mail_retry_cap_seconds)
        d.next_attempt_at = now + timedelta(seconds=delay)
        return PENDING
    messaging.record(session, events.mail_undelivered(d, code))
    return d.status


def send_due(transaction: Callable[[], Any], cfg: AccountsSettings, now: datetime) -> dict[str, int]:
    """One pass of the worker: claim what is due, send it over one SMTP session, record each outcome."""
    if not cfg.mail_smtp_host:
        return {}
    with transaction() as session:
        batch = _claim(session, now)
        ids = [d.id for d in batch]
    if not ids:
        return {}
    counts: dict[str, int] = {}
    try:
        smtp = _connect(cfg)
    except _Unreachable as exc:
        log.warning("mail server unreachable", extra={"error": str(exc)[:200]})
        with transaction() as session:
            for i in ids:
                d = session.get(MailDelivery, i)
                if d is not None:
                    s = _outcome(session, cfg, d, None, f"unreachable: {exc}", now)
                    counts[s] = counts.get(s, 0) + 1
        return counts
    try:
        for i in ids:
            with transaction() as session:
                d = session.get(MailDelivery, i)
                if d is None or d.status != PENDING:
                    continue
                code, reason = _send_one(smtp, cfg, d, now)
                s = _outcome(session, cfg, d, code, reason, now)
                counts[s] = counts.get(s, 0) + 1
            if code is None and reason:
                break  # the connection is gone: the rest wait for the next pass (still claimed briefly)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return counts


def deliveries(session: Session, status: str | None, tenant_id: str | None, limit: int) -> Sequence[MailDelivery]:
    q = select(MailDelivery)
    if status:
        q = q.where(MailDelivery.status == status)
    if tenant_id:
        q = q.where(MailDelivery.tenant_id == tenant_id)
    return session.execute(q.order_by(MailDelivery.created_at.desc(), MailDelivery.id).limit(limit)).scalars().all()
