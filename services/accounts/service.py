"""Use cases of the accounts service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.accounts import events, repository
from services.accounts.models import (
    ContractTermination,
    Jigyosho,
    Notice,
    PurgeConfirmation,
    Tenant,
    User,
    messaging,
    permissions,
)
from services.accounts.rules.business_days import contract_end_schedule
from services.accounts.rules.grants import Caller, refusal
from services.accounts.rules.notices import earliest_start, lead_time_ok
from services.accounts.schemas import (
    JigyoshoIn,
    NoticeCreate,
    TenantCreate,
    TenantOpen,
    TenantSettings,
    TenantUpdate,
    UserCreate,
    UserUpdate,
)
from shared.clock import JST
from shared.errors import ProblemError, not_found
from shared.events import SYSTEM, Actor, EventEnvelope
from shared.permissions import TENANT_ADMIN, Grants
from shared.tombstones import Ledger

TENANT_CODE_TAKEN = ProblemError(409, "tenant-code-taken", "このテナントコードは既に使われています")
LOGIN_ID_TAKEN = ProblemError(409, "login-id-taken", "このログインIDは既に使われています")
LAST_ADMIN = ProblemError(409, "last-administrator", "最後の管理者は無効化・削除・降格できません",
                          "先に別の利用者を管理者にしてください")
STALE = ProblemError(412, "precondition-failed", "データが他の利用者によって更新されています",
                     "最新の内容を取得し直してから変更してください")
IF_MATCH_REQUIRED = ProblemError(428, "precondition-required", "If-Match ヘッダーが必要です",
                                 "取得時の ETag を If-Match に指定してください")
TENANT_ENDED = ProblemError(409, "contract-ended", "契約終了の処理が始まったテナントは変更できません")


def validation(field: str, message: str, code: str) -> ProblemError:
    return ProblemError(422, "validation", "入力内容に誤りがあります",
                        errors=[{"field": field, "message": message, "code": code}])


# --- optimistic concurrency -------------------------------------------------------------------

def parse_if_match(header: str | None) -> int:
    """The version an If-Match names ("3", W/"3"); 428 without one, 412 for anything else."""
    if header is None or not header.strip():
        raise IF_MATCH_REQUIRED
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise STALE
    return int(value)


def check_version(current: int, if_match: str | None) -> None:
    if parse_if_match(if_match) != current:
        raise STALE


@contextmanager
def stale_is_412() -> Iterator[None]:
    """A concurrent commit between our read and our write: the version column catches it."""
    try:
        yield
    except StaleDataError as exc:
        raise STALE from exc


# --- tenants ----------------------------------------------------------------------------------

def _check_dates(start: date, end: date | None) -> None:
    if end is not None and end < start:
        raise validation("contract_end", "契約終了日は契約開始日以降にしてください", "date_order")


def create_tenant(session: Session, body: TenantCreate, actor: Actor, tenant_id: str | None = None) -> Tenant:
    if repository.tenant_by_code(session, body.code):
        raise TENANT_CODE_TAKEN
    _check_dates(body.contract_start, body.contract_end)
    tenant = Tenant(
        id=tenant_id or str(uuid.uuid4()), code=body.code, name=body.name, kind=body.kind, status="active",
        contract_start=body.contract_start, contract_end=body.contract_end, created_at=datetime.now(UTC),
        totp_required=False, device_cert_required=False, ip_allowlist=[], password_policy={}, lockout_policy={},
    )
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same code
        raise TENANT_CODE_TAKEN from exc
    messaging.record(session, events.tenant_created(tenant, actor))
    _schedule_termination(session, tenant)
    return tenant


def open_tenant(session: Session, body: TenantOpen, actor: Actor) -> tuple[Tenant, User]:
    """A tenant starts with exactly one administrator (system operators only)."""
    tenant = create_tenant(session, TenantCreate.model_validate(body.model_dump(exclude={"admin", "settings"})),
                           actor)
    _apply_settings(tenant, body.settings)
    messaging.record(session, events.tenant_settings_changed(tenant, actor))
    admin = create_user(session, tenant.id, UserCreate(login_id=body.admin.login_id,
                                                       display_name=body.admin.display_name,
                                                       roles=["tenant_admin"], email=body.admin.email), actor)
    return tenant, admin


def _tenant_or_404(session: Session, tenant_id: str) -> Tenant:
    tenant = repository.tenant_by_id(session, tenant_id)
    if tenant is None:
        raise not_found()
    return tenant


def update_tenant(session: Session, tenant_id: str, body: TenantUpdate, if_match: str | None,
                  actor: Actor) -> Tenant:
    tenant = _tenant_or_404(session, tenant_id)
    check_version(tenant.version, if_match)
    _check_dates(body.contract_start, body.contract_end)
    term = session.get(ContractTermination, tenant_id)
    if tenant.status != "active" or (term is not None and term.status != "scheduled"):
        raise TENANT_ENDED
    tenant.name, tenant.kind = body.name, body.kind
    tenant.contract_start, tenant.contract_end = body.contract_start, body.contract_end
    with stale_is_412():
        session.flush()
    messaging.record(session, events.tenant_updated(tenant, actor))
    _schedule_termination(session, tenant)
    return tenant


def _apply_settings(tenant: Tenant, s: TenantSettings) -> None:
    tenant.totp_required, tenant.device_cert_required = s.totp_required, s.device_cert_required
    tenant.ip_allowlist = list(s.ip_allowlist)
    tenant.password_policy = s.password_policy.model_dump()
    tenant.lockout_policy = s.lockout_policy.model_dump()


def update_settings(session: Session, tenant_id: str, body: TenantSettings, if_match: str | None,
                    actor: Actor) -> Tenant:
    tenant = _tenant_or_404(session, tenant_id)
    check_version(tenant.version, if_match)
    if tenant.status != "active":
        raise TENANT_ENDED
    _apply_settings(tenant, body)
    with stale_is_412():
        session.flush()
    messaging.record(session, events.tenant_settings_changed(tenant, actor))
    return tenant


def _schedule_termination(session: Session, tenant: Tenant) -> None:
    """Setting (or moving, or clearing) the contract end (re)computes the three dates."""
    term = session.get(ContractTermination, tenant.id)
    if tenant.contract_end is None:
        if term is not None and term.status == "scheduled":
            session.delete(term)
        return
    sched = contract_end_schedule(tenant.contract_end)
    if term is None:
        term = ContractTermination(tenant_id=tenant.id, status="scheduled", account_counts={},
                                   created_at=datetime.now(UTC))
        session.add(term)
    term.tenant_code, term.tenant_name = tenant.code, tenant.name
    term.contract_end = sched.contract_end
    term.accounts_disabled_on = sched.accounts_disabled_on
    term.data_deleted_on = sched.data_deleted_on
    term.accounts_deleted_on = sched.accounts_deleted_on


# --- users ------------------------------------------------------------------------------------

def _publish_permissions(session: Session, user: User, actor: Actor) -> None:
    """The new snapshot: in our own read model now (same transaction), in every other service
    through the event."""
    event = events.user_permissions_changed(user, actor)
    permissions.apply_snapshot(session, user.tenant_id, user.id, event.data)
    messaging.record(session, event)


def _check_jigyosho_ids(session: Session, tenant_id: str, ids: list[str]) -> None:
    if not ids:
        return
    found = set(session.execute(select(Jigyosho.id).where(Jigyosho.tenant_id == tenant_id,
                                                          Jigyosho.id.in_(ids))).scalars())
    if set(ids) - found:
        raise validation("grants.jigyosho.ids", "存在しない事業所が含まれています", "unknown_jigyosho")


def _guard(caller: Caller | None, target: User | None, roles: list[str], menus: dict[str, str],
           jig_all: bool, jig_ids: list[str]) -> None:
    if caller is None:
        return
    why = refusal(caller, target.id if target else None, target.roles if target else [], roles, menus,
                  jig_all, jig_ids)
    if why:
        raise ProblemError(403, "forbidden", "この操作を行う権限がありません", why)


def create_user(session: Session, tenant_id: str, body: UserCreate, actor: Actor, user_id: str | None = None,
                caller: Caller | None = None) -> User:
    tenant = repository.tenant_by_id(session, tenant_id)
    if tenant is None:
        raise not_found()
    if tenant.status != "active":
        raise TENANT_ENDED
    roles: list[str] = sorted(set(body.roles))
    menus: dict[str, str] = dict(body.grants.menus)
    _guard(caller, None, roles, menus, body.grants.jigyosho.all, body.grants.jigyosho.ids)
    _check_jigyosho_ids(session, tenant_id, body.grants.jigyosho.ids)
    if repository.user_by_login(session, tenant_id, body.login_id):
        raise LOGIN_ID_TAKEN
    user = User(
        id=user_id or str(uuid.uuid4()), tenant_id=tenant_id, login_id=body.login_id,
        display_name=body.display_name, roles=roles, status="active", created_at=datetime.now(UTC),
        menus=menus, jigyosho_all=body.grants.jigyosho.all, jigyosho_ids=body.grants.jigyosho.ids,
        permissions_version=1, email=body.email, deadline_digest_days=body.deadline_digest_days,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise LOGIN_ID_TAKEN from exc
    messaging.record(session, events.user_created(user, tenant.code, actor))
    _publish_permissions(session, user, actor)
    return user


def _user_or_404(session: Session, tenant_id: str, user_id: str) -> User:
    user = repository.user_in_tenant(session, tenant_id, user_id)
    if user is None:
        raise not_found()
    return user


def _other_active_admins(session: Session, tenant_id: str, user_id: str) -> int:
    # populate_existing: a row already in this session is read again, not taken from its identity map.
    users = session.execute(select(User).where(User.tenant_id == tenant_id, User.id != user_id,
                                               User.status == "active")
                            .execution_options(populate_existing=True)).scalars()
    return sum(1 for u in users if TENANT_ADMIN in u.roles)


def _keeps_an_admin(session: Session, user: User, roles_after: list[str], status_after: str) -> None:
    was = TENANT_ADMIN in user.roles and user.status == "active"
    stays = TENANT_ADMIN in roles_after and status_after == "active"
    if not was or stays:
        return
    # Two administrators removing each other at once each counted the other (write skew across two
    # rows): the tenant row's lock serialises every removal of an administrator in the tenant, and
    # the count below then sees the other's committed change (PostgreSQL; SQLite serialises writers).
    repository.lock_tenant(session, user.tenant_id)
    if _other_active_admins(session, user.tenant_id, user.id) == 0:
        raise LAST_ADMIN


def update_user(session: Session, tenant_id: str, user_id: str, body: UserUpdate, if_match: str | None,
                actor: Actor, caller: Caller | None) -> User:
    user = _user_or_404(session, tenant_id, user_id)
    check_version(user.version, if_match)
    roles: list[str] = sorted(set(body.roles))
    menus: dict[str, str] = dict(body.grants.menus)
    _guard(caller, user, roles, menus, body.grants.jigyosho.all, body.grants.jigyosho.ids)
    _check_jigyosho_ids(session, tenant_id, body.grants.jigyosho.ids)
    _keeps_an_admin(session, user, roles, user.status)
    if body.login_id != user.login_id and repository.user_by_login(session, tenant_id, body.login_id):
        raise LOGIN_ID_TAKEN
    identity_changed = (body.login_id, roles) != (user.login_id, list(user.roles))
    grants_changed = identity_changed or (menus, body.grants.jigyosho.all, body.grants.jigyosho.ids) != (
        dict(user.menus or {}), user.jigyosho_all, list(user.jigyosho_ids or []))
    user.login_id, user.display_name, user.roles = body.login_id, body.display_name, roles
    user.menus, user.jigyosho_all, user.jigyosho_ids = menus, body.grants.jigyosho.all, body.grants.jigyosho.ids
    if "email" in body.model_fields_set:  # absent: kept (clients from before the field never clear it)
        user.email = body.email
    if "deadline_digest_days" in body.model_fields_set:
        user.deadline_digest_days = body.deadline_digest_days
    if grants_changed:
        user.permissions_version += 1
    with stale_is_412():
        try:
            session.flush()
        except IntegrityError as exc:
            raise LOGIN_ID_TAKEN from exc
    if identity_changed:
        messaging.record(session, events.user_updated(user, actor))
    if grants_changed:
        _publish_permissions(session, user, actor)
    return user


def set_user_status(session: Session, tenant_id: str, user_id: str, status: str, if_match: str | None,
                    actor: Actor, caller: Caller | None) -> User:
    """Disable (status "disabled") or enable ("active") a user. Disabling ends their sessions
    (auth, on roumu.accounts.user.disabled) and their grants everywhere (permissions_changed)."""
    user = _user_or_404(session, tenant_id, user_id)
    check_version(user.version, if_match)
    _guard(caller, user, list(user.roles), dict(user.menus or {}), user.jigyosho_all, list(user.jigyosho_ids or []))
    if status == user.status:
        return user
    _keeps_an_admin(session, user, list(user.roles), status)
    user.status = status
    user.permissions_version += 1
    with stale_is_412():
        session.flush()
    if status == "disabled":
        messaging.record(session, events.user_disabled(user, actor))
    else:
        messaging.record(session, events.user_updated(user, actor))
    _publish_permissions(session, user, actor)
    return user


def delete_user(session: Session, tenant_id: str, user_id: str, if_match: str | None, actor: Actor,
                caller: Caller | None) -> None:
    user = _user_or_404(session, tenant_id, user_id)
    check_version(user.version, if_match)
    _guard(caller, user, list(user.roles), dict(user.menus or {}), user.jigyosho_all, list(user.jigyosho_ids or []))
    _keeps_an_admin(session, user, [], "deleted")
    event = events.user_deleted(user, actor)
    session.delete(user)
    with stale_is_412():
        session.flush()
    # The read-model row stays as a tombstone: the token of a deleted user holds nothing.
    permissions.set_status(session, tenant_id, user_id, "deleted")
    messaging.record(session, event)


# --- 事業所 -----------------------------------------------------------------------------------

def _fill_jigyosho(j: Jigyosho, body: JigyoshoIn) -> None:
    j.name, j.name_kana, j.postal_code, j.address = body.name, body.name_kana, body.postal_code, body.address
    j.labour_insurance_number = body.labour_insurance_number
    j.employment_insurance_office_number = body.employment_insurance_office_number
    j.rousai_gyoshu_code, j.koyo_jigyo_kubun = body.rousai_gyoshu_code, body.koyo_jigyo_kubun
    j.headcount = body.headcount
    j.contacts = [c.model_dump() for c in body.contacts]


def create_jigyosho(session: Session, tenant_id: str, body: JigyoshoIn, actor: Actor) -> Jigyosho:
    now = datetime.now(UTC)
    j = Jigyosho(id=str(uuid.uuid4()), tenant_id=tenant_id, status="active", created_at=now, updated_at=now)
    _fill_jigyosho(j, body)
    session.add(j)
    session.flush()
    messaging.record(session, events.jigyosho_event(events.JIGYOSHO_CREATED, j, actor))
    return j


def update_jigyosho(session: Session, j: Jigyosho, body: JigyoshoIn, if_match: str | None, actor: Actor) -> Jigyosho:
    check_version(j.version, if_match)
    if j.status == "closed":
        raise ProblemError(409, "jigyosho-closed", "廃止された事業所は変更できません")
    _fill_jigyosho(j, body)
    j.updated_at = datetime.now(UTC)
    with stale_is_412():
        session.flush()
    messaging.record(session, events.jigyosho_event(events.JIGYOSHO_UPDATED, j, actor))
    return j


def close_jigyosho(session: Session, j: Jigyosho, closed_on: date, if_match: str | None, actor: Actor) -> Jigyosho:
    check_version(j.version, if_match)
    if j.status == "closed":
        raise ProblemError(409, "jigyosho-closed", "この事業所は既に廃止されています")
    j.status, j.closed_on, j.updated_at = "closed", closed_on, datetime.now(UTC)
    with stale_is_412():
        session.flush()
    messaging.record(session, events.jigyosho_event(events.JIGYOSHO_CLOSED, j, actor))
    return j


# --- お知らせ ---------------------------------------------------------------------------------

LEAD_NAMES = {"maintenance": "メンテナンスは1か月前", "end_of_service": "サービス終了は3か月前"}


def publish_notice(session: Session, body: NoticeCreate, actor: Actor, now: datetime) -> Notice:
    assert body.kind == "information" or body.starts_at is not None
    if body.starts_at is not None and not lead_time_ok(body.kind, now, body.starts_at, body.emergency):
        earliest = earliest_start(body.kind, now)
        assert earliest is not None
        raise ProblemError(
            422, "notice-lead-time", "告知期間が足りません",
            f"{LEAD_NAMES[body.kind]}までに告知する必要があります。開始日時は "
            f"{earliest.astimezone(JST).strftime('%Y-%m-%d %H:%M')}（日本時間）以降にしてください。"
            "緊急の場合は emergency と理由を指定してください",
            extra={"earliest_starts_at": earliest.astimezone(UTC).isoformat()},
        )
    if body.tenant_id is not None and repository.tenant_by_id(session, body.tenant_id) is None:
        raise validation("tenant_id", "テナントが見つかりません", "unknown_tenant")
    visible_until = body.visible_until or body.ends_at or body.starts_at
    assert visible_until is not None
    if visible_until <= now:
        raise validation("visible_until", "掲載終了が過去の日時です", "in_the_past")
    notice = Notice(id=str(uuid.uuid4()), tenant_id=body.tenant_id, kind=body.kind, title=body.title,
                    body=body.body, starts_at=body.starts_at, ends_at=body.ends_at, emergency=body.emergency,
                    emergency_reason=body.emergency_reason if body.emergency else None, published_at=now,
                    visible_until=visible_until, published_by=actor.id[:64])
    session.add(notice)
    session.flush()
    messaging.record(session, events.notice_published(notice, actor))
    return notice


# --- end of contract --------------------------------------------------------------------------

def start_of_day(d: date) -> datetime:
    """Jobs of a day are due from 00:00 Japan time."""
    return datetime.combine(d, time(0, 0), tzinfo=JST)


def run_due_jobs(transaction: Callable[[], Any], now: datetime, settle: timedelta,
                 ledger: Ledger | None = None, on_purge: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Carry out every contract-end step that is due at `now`, each in its own transaction.

    1. accounts disabled (00:00 JST of the business day after the contract end);
    2. purge requested (00:00 JST of the same day, and at least `settle` after step 1, so the
       disabling events reach every service before their data goes);
    3. account information deleted (00:00 JST of the business day after the end month), once
       every service confirmed its purge.

    `ledger`: the tombstones a restore re-purges from (shared/tombstones.py); written from step 2 on.
    `on_purge(tenant_id)`: after step 2 committed (the export archives of the tenant go, exports.py)."""
    ran: list[dict[str, Any]] = []
    with transaction() as session:
        due = [t.tenant_id for t in session.execute(select(ContractTermination).where(
            ContractTermination.status.in_(("scheduled", "disabled", "purged")))).scalars()]
    for tenant_id in due:
        with transaction() as session:
            term = session.get(ContractTermination, tenant_id, with_for_update=True)
            if term is None:
                continue
            step = _run_step(session, term, now, settle, ledger)
            if step:
                ran.append({"tenant_id": tenant_id, "step": step, "at": now.isoformat()})
        if step == "purge_requested" and on_purge is not None:
            on_purge(tenant_id)
    return ran


def _run_step(session: Session, term: ContractTermination, now: datetime, settle: timedelta,
              ledger: Ledger | None = None) -> str | None:
    if term.status == "scheduled" and now >= start_of_day(term.accounts_disabled_on):
        _disable_tenant(session, term, now)
        return "accounts_disabled"
    if (term.status == "disabled" and now >= start_of_day(term.data_deleted_on)
            and term.disabled_at is not None and now >= term.disabled_at + settle):
        term.status, term.purge_requested_at = "purging", now
        messaging.record(session, events.tenant_purge_requested(term))
        tombstone(ledger, session, term)
        return "purge_requested"
    if term.status == "purged" and now >= start_of_day(term.accounts_deleted_on):
        _delete_accounts(session, term, now)
        tombstone(ledger, session, term)
        return "accounts_deleted"
    return None


def _disable_tenant(session: Session, term: ContractTermination, now: datetime) -> None:
    tenant = session.get(Tenant, term.tenant_id)
    term.status, term.disabled_at = "disabled", now
    if tenant is None:
        return
    tenant.status = "disabled"
    messaging.record(session, events.tenant_disabled(tenant, term))
    for user in session.execute(select(User).where(User.tenant_id == tenant.id, User.status == "active")).scalars():
        user.status = "disabled"
        user.permissions_version += 1
        session.flush()
        messaging.record(session, events.user_disabled(user, SYSTEM))
        _publish_permissions(session, user, SYSTEM)


def on_tenant_purged(session: Session, event: EventEnvelope, ledger: Ledger | None = None) -> None:
    """roumu.<service>.tenant.purged: keep the confirmation; when every service confirmed, the
    tenant's operational data is gone everywhere."""
    service = event.type.split(".")[1]
    if service not in events.PURGING_SERVICES:
        return
    tenant_id = event.subject["tenant_id"]
    purged_at = datetime.fromisoformat(str(event.data["purged_at"]))
    row = session.get(PurgeConfirmation, (tenant_id, service))
    if row is None:
        counts = {str(c["table"]): int(c["rows"]) for c in event.data["counts"]}
        session.add(PurgeConfirmation(tenant_id=tenant_id, service=service, counts=counts,
                                      purged_at=purged_at, received_at=datetime.now(UTC)))
    session.flush()
    term = session.get(ContractTermination, tenant_id)
    if term is None or term.status != "purging":
        return
    if set(confirmed_services(session, tenant_id)) >= set(events.PURGING_SERVICES):
        term.status = "purged"
        tenant = session.get(Tenant, tenant_id)
        if tenant is not None:
            tenant.status = "purged"
    if row is None:
        # Every new confirmation, not only the last: a restore between two of them still gets
        # back the ones whose events its accounts consumer will not see again.
        tombstone(ledger, session, term)


def termination_record(term: ContractTermination) -> dict[str, Any]:
    return {c.name: getattr(term, c.name) for c in ContractTermination.__table__.columns}


def tombstone(ledger: Ledger | None, session: Session, term: ContractTermination) -> None:
    """The tenant's line in the tombstones (before the commit): the contract-end row and the
    confirmations so far, everything the deletion certificate is issued from."""
    if ledger is None:
        return
    session.flush()
    confirmations = session.execute(select(PurgeConfirmation).where(
        PurgeConfirmation.tenant_id == term.tenant_id)).scalars()
    ledger.append({"tenant_id": term.tenant_id, "status": term.status, "termination": termination_record(term),
                   "confirmations": [{"service": c.service, "counts": c.counts, "purged_at": c.purged_at,
                                      "received_at": c.received_at} for c in confirmations]})


def confirmed_services(session: Session, tenant_id: str) -> list[str]:
    return list(session.execute(select(PurgeConfirmation.service)
                                .where(PurgeConfirmation.tenant_id == tenant_id)).scalars())


def _delete_accounts(session: Session, term: ContractTermination, now: datetime) -> None:
    counts: dict[str, int] = {}
    tid = term.tenant_id
    counts["permission_grants"] = permissions.forget_tenant(session, tid)
    counts["users"] = int(session.execute(delete(User).where(User.tenant_id == tid)).rowcount or 0)  # type: ignore[attr-defined]
    counts["tenants"] = int(session.execute(delete(Tenant).where(Tenant.id == tid)).rowcount or 0)  # type: ignore[attr-defined]
    term.account_counts = counts
    term.status, term.accounts_deleted_at = "accounts_deleted", now
    messaging.record(session, events.tenant_deleted(term, now))


def count_users(session: Session, tenant_id: str) -> int:
    return int(session.execute(select(func.count()).select_from(User).where(User.tenant_id == tenant_id))
               .scalar_one())


# --- republishing grants (operators) ----------------------------------------------------------

REPUBLISH_BATCH = 500
# From this contract-end step on, the tenant's data is deleted (or being deleted) everywhere:
# republishing would bring permission and settings rows back into services that purged them.
PURGE_STARTED = ("purging", "purged", "accounts_deleted")


def _republishable(session: Session, tenant_id: str) -> Tenant | None:
    """The tenant, locked, when its grants may go out again. The contract-end row is locked first
    (as the scheduler does), so a purge request is recorded either before this check or after our
    events: never a republished row behind a purge."""
    term = session.execute(select(ContractTermination).where(ContractTermination.tenant_id == tenant_id)
                           .with_for_update()).scalar_one_or_none()
    if term is not None and term.status in PURGE_STARTED:
        return None
    tenant = session.execute(select(Tenant).where(Tenant.id == tenant_id).with_for_update()).scalar_one_or_none()
    return tenant if tenant is not None and tenant.status != "purged" else None


def _tombstones(session: Session, tenant_id: str, after: str, limit: int) -> list[tuple[str, Grants]]:
    """Read-model rows of deleted users (no user row left), by user id."""
    t = permissions.table
    rows = session.execute(
        select(t).where(t.c.tenant_id == tenant_id, t.c.user_id > after, t.c.permissions_version >= 1,
                        ~select(User.id).where(User.id == t.c.user_id).exists())
        .order_by(t.c.user_id).limit(limit)).mappings().all()
    return [(r["user_id"], Grants(roles=frozenset(r["roles"]), menus=dict(r["menus"]),
                                  jigyosho_all=r["jigyosho_all"], jigyosho_ids=frozenset(r["jigyosho_ids"]),
                                  status=r["status"], version=r["permissions_version"])) for r in rows]


def _user_page(session: Session, tenant_id: str, after: str, limit: int, actor: Actor) -> tuple[int, str | None]:
    """One batch of users' snapshots, the users locked so a concurrent change is recorded after it.
    Answers how many, and where the next batch starts (None: this was the last)."""
    rows = session.execute(select(User).where(User.tenant_id == tenant_id, User.id > after)
                           .order_by(User.id).limit(limit).with_for_update()).scalars().all()
    messaging.record_many(session, [events.user_permissions_changed(u, actor) for u in rows])
    return len(rows), (rows[-1].id if len(rows) == limit else None)


def _tombstone_page(session: Session, tenant_id: str, after: str, limit: int,
                    actor: Actor) -> tuple[int, str | None]:
    dead = _tombstones(session, tenant_id, after, limit)
    messaging.record_many(session, [events.permissions_tombstone(tenant_id, uid, g, actor) for uid, g in dead])
    return len(dead), (dead[-1][0] if len(dead) == limit else None)


def _jigyosho_page(session: Session, tenant_id: str, after: str, limit: int, actor: Actor) -> tuple[int, str | None]:
    """One batch of the 事業所 master as it is now: `jigyosho.updated` (`closed` for a closed one),
    which the services' read models take as newer than what they hold (shared.jigyosho_directory)."""
    rows = session.execute(select(Jigyosho).where(Jigyosho.tenant_id == tenant_id, Jigyosho.id > after)
                           .order_by(Jigyosho.id).limit(limit).with_for_update()).scalars().all()
    messaging.record_many(session, [events.jigyosho_event(
        events.JIGYOSHO_CLOSED if j.status == "closed" else events.JIGYOSHO_UPDATED, j, actor) for j in rows])
    return len(rows), (rows[-1].id if len(rows) == limit else None)


def republish_grants(transaction: Callable[[], Any], actor: Actor, tenant_id: str | None = None,
                     batch: int = REPUBLISH_BATCH) -> tuple[int, int, int]:
    """Record again, through the outbox, every user's current permissions snapshot (the same
    permissions_version, so a service that has it ignores it and one that lacks it applies it),
    deleted users' tombstones, every tenant's settings (auth takes the whole settings when not
    older than what it has) and every 事業所 of the master as it is now (the read models of
    koyo_hoken, jimukumiai and files). For a service restored from a backup, added after the
    stream's 30 days, or a read model added after its 事業所 were created. Tenants whose purge has
    started are skipped. Answers (users, tenants, 事業所) recorded."""
    with transaction() as session:
        if tenant_id is not None and repository.tenant_by_id(session, tenant_id) is None:
            raise not_found()
        q = select(Tenant.id).order_by(Tenant.id)
        tenant_ids = list(session.execute(q if tenant_id is None else q.where(Tenant.id == tenant_id)).scalars())
    users = tenants = offices = 0
    for tid in tenant_ids:
        with transaction() as session:
            tenant = _republishable(session, tid)
            if tenant is None:
                continue
            messaging.record(session, events.tenant_settings_changed(tenant, actor))
            tenants += 1
        for page in (_user_page, _tombstone_page, _jigyosho_page):
            after: str | None = ""
            while after is not None:
                with transaction() as session:
                    if _republishable(session, tid) is None:
                        break
                    recorded, after = page(session, tid, after, batch, actor)
                if page is _jigyosho_page:
                    offices += recorded
                else:
                    users += recorded
    return users, tenants, offices
