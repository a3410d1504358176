"""Events the accounts service publishes and consumes (schemas in contracts/events/).

Ids and facts: no contact persons, no display names (they name people)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.accounts.models import ContractTermination, Jigyosho, MailDelivery, Notice, Tenant, TenantExport, User
from shared.events import SYSTEM, Actor, EventEnvelope
from shared.permissions import Grants, snapshot_data

TENANT_CREATED = "roumu.accounts.tenant.created"
TENANT_UPDATED = "roumu.accounts.tenant.updated"
TENANT_SETTINGS_CHANGED = "roumu.accounts.tenant.settings_changed"
TENANT_DISABLED = "roumu.accounts.tenant.disabled"
TENANT_PURGE_REQUESTED = "roumu.accounts.tenant.purge_requested"
TENANT_DELETED = "roumu.accounts.tenant.deleted"
TENANT_EXPORTED = "roumu.accounts.tenant.exported"
USER_CREATED = "roumu.accounts.user.created"
USER_UPDATED = "roumu.accounts.user.updated"
USER_DISABLED = "roumu.accounts.user.disabled"
USER_DELETED = "roumu.accounts.user.deleted"
USER_PERMISSIONS_CHANGED = "roumu.accounts.user.permissions_changed"
JIGYOSHO_CREATED = "roumu.accounts.jigyosho.created"
JIGYOSHO_UPDATED = "roumu.accounts.jigyosho.updated"
JIGYOSHO_CLOSED = "roumu.accounts.jigyosho.closed"
NOTICE_PUBLISHED = "roumu.accounts.notice.published"
MAIL_UNDELIVERED = "roumu.accounts.mail.undelivered"

# Consumed: every service's confirmation that it purged a tenant (shared.purge), collected for the
# deletion certificate. The services expected to confirm, in certificate order:
TENANT_PURGED: dict[str, str] = {
    "auth": "roumu.auth.tenant.purged",
    "accounts": "roumu.accounts.tenant.purged",
    "koyo_hoken": "roumu.koyo_hoken.tenant.purged",
    "jimukumiai": "roumu.jimukumiai.tenant.purged",
    "efiling": "roumu.efiling.tenant.purged",
    "audit_log": "roumu.audit_log.tenant.purged",
    "files": "roumu.files.tenant.purged",
    "webhooks": "roumu.webhooks.tenant.purged",
    "shakai_hoken": "roumu.shakai_hoken.tenant.purged",
}
PURGING_SERVICES: tuple[str, ...] = tuple(TENANT_PURGED)


def _contract(t: Tenant) -> dict[str, Any]:
    return {"code": t.code, "kind": t.kind, "status": t.status,
            "contract_start": t.contract_start.isoformat(),
            "contract_end": t.contract_end.isoformat() if t.contract_end else None}


def tenant_created(t: Tenant, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=TENANT_CREATED, tenant_id=t.id, actor=actor, subject={"tenant_id": t.id},
                         data=_contract(t))


def tenant_updated(t: Tenant, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=TENANT_UPDATED, tenant_id=t.id, actor=actor, subject={"tenant_id": t.id},
                         data=_contract(t))


def settings_data(t: Tenant) -> dict[str, Any]:
    pw = t.password_policy or {}
    lo = t.lockout_policy or {}
    return {
        "totp_required": t.totp_required, "device_cert_required": t.device_cert_required,
        "ip_allowlist": list(t.ip_allowlist or []),
        "password_policy": {k: pw.get(k) for k in ("min_length", "max_length", "history", "min_age_hours")},
        "lockout_policy": {k: lo.get(k) for k in ("threshold", "duration_minutes", "admin_unlock_only")},
    }


def tenant_settings_changed(t: Tenant, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=TENANT_SETTINGS_CHANGED, tenant_id=t.id, actor=actor, subject={"tenant_id": t.id},
                         data=settings_data(t))


def tenant_disabled(t: Tenant, term: ContractTermination) -> EventEnvelope:
    return EventEnvelope(type=TENANT_DISABLED, tenant_id=t.id, actor=SYSTEM, subject={"tenant_id": t.id},
                         data={"reason": "contract_ended", "contract_end": term.contract_end.isoformat()})


def tenant_purge_requested(term: ContractTermination) -> EventEnvelope:
    # tenant_id null: the record of a deletion is the system's, and outlives the tenant's data.
    return EventEnvelope(type=TENANT_PURGE_REQUESTED, tenant_id=None, actor=SYSTEM,
                         subject={"tenant_id": term.tenant_id},
                         data={"contract_end": term.contract_end.isoformat(),
                               "data_deleted_on": term.data_deleted_on.isoformat()})


def tenant_deleted(term: ContractTermination, at: datetime) -> EventEnvelope:
    return EventEnvelope(type=TENANT_DELETED, tenant_id=None, actor=SYSTEM, subject={"tenant_id": term.tenant_id},
                         data={"counts": dict(term.account_counts), "deleted_at": at.isoformat()})


def tenant_exported(export: TenantExport, actor: Actor, rows: int, files: int, manifest_sha256: str) -> EventEnvelope:
    """An operator exported the whole tenant (返却): in the tenant's audit log as 運用者による操作."""
    return EventEnvelope(type=TENANT_EXPORTED, tenant_id=export.tenant_id, actor=actor,
                         subject={"tenant_id": export.tenant_id, "export_id": export.id},
                         data={"encrypted_to_tenant_key": ["my_numbers"] if export.my_numbers_included else [],
                               "rows": rows, "files": files,
                               "manifest_sha256": manifest_sha256, "key_id": export.key_id})


def _user_subject(u: User) -> dict[str, str]:
    return {"user_id": u.id, "tenant_id": u.tenant_id}


def user_created(u: User, tenant_code: str, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=USER_CREATED, tenant_id=u.tenant_id, actor=actor, subject=_user_subject(u),
        data={"login_id": u.login_id, "tenant_code": tenant_code, "roles": u.roles, "status": u.status},
    )


def user_updated(u: User, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=USER_UPDATED, tenant_id=u.tenant_id, actor=actor, subject=_user_subject(u),
                         data={"login_id": u.login_id, "roles": list(u.roles), "status": u.status})


def user_disabled(u: User, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=USER_DISABLED, tenant_id=u.tenant_id, actor=actor, subject=_user_subject(u))


def user_deleted(u: User, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=USER_DELETED, tenant_id=u.tenant_id, actor=actor, subject=_user_subject(u))


def permissions_snapshot(u: User) -> dict[str, Any]:
    return snapshot_data(u.roles, u.menus or {}, u.jigyosho_all, u.jigyosho_ids or [], u.status,
                         u.permissions_version)


def user_permissions_changed(u: User, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=USER_PERMISSIONS_CHANGED, tenant_id=u.tenant_id, actor=actor,
                         subject=_user_subject(u), data=permissions_snapshot(u))


def permissions_tombstone(tenant_id: str, user_id: str, grants: Grants, actor: Actor) -> EventEnvelope:
    """A deleted user's last snapshot (status "deleted"), from the read-model row that outlives the
    user: republished so a rebuilt service refuses their tokens too."""
    return EventEnvelope(type=USER_PERMISSIONS_CHANGED, tenant_id=tenant_id, actor=actor,
                         subject={"user_id": user_id, "tenant_id": tenant_id},
                         data=snapshot_data(grants.roles, grants.menus, grants.jigyosho_all, grants.jigyosho_ids,
                                            grants.status, grants.version))


def _jigyosho_data(j: Jigyosho) -> dict[str, Any]:
    # A business's name and numbers identify a business, not a person; contacts stay here.
    return {"name": j.name, "name_kana": j.name_kana, "labour_insurance_number": j.labour_insurance_number,
            "employment_insurance_office_number": j.employment_insurance_office_number,
            "rousai_gyoshu_code": j.rousai_gyoshu_code, "koyo_jigyo_kubun": j.koyo_jigyo_kubun,
            "headcount": j.headcount, "status": j.status,
            "closed_on": j.closed_on.isoformat() if j.closed_on else None}


def jigyosho_event(kind: str, j: Jigyosho, actor: Actor) -> EventEnvelope:
    return EventEnvelope(type=kind, tenant_id=j.tenant_id, actor=actor,
                         subject={"jigyosho_id": j.id, "tenant_id": j.tenant_id}, data=_jigyosho_data(j))


def notice_published(n: Notice, actor: Actor) -> EventEnvelope:
    return EventEnvelope(
        type=NOTICE_PUBLISHED, tenant_id=n.tenant_id, actor=actor, subject={"notice_id": n.id},
        data={"kind": n.kind, "emergency": n.emergency,
              "starts_at": n.starts_at.isoformat() if n.starts_at else None,
              "ends_at": n.ends_at.isoformat() if n.ends_at else None,
              "visible_until": n.visible_until.isoformat()},
    )


_MAIL_REF = {"notice": "notice_id", "efiling": "event_id", "digest": "digest_day"}


def mail_undelivered(d: MailDelivery, smtp_code: int | None) -> EventEnvelope:
    """A mail refused by the server (5xx) or given up after its retries: in the tenant's log.
    Never the address: only accounts holds it (the delivery log, for operators)."""
    return EventEnvelope(type=MAIL_UNDELIVERED, tenant_id=d.tenant_id, actor=Actor(kind="system", id="accounts.mail"),
                         subject={"delivery_id": d.id, "user_id": d.user_id, "tenant_id": d.tenant_id,
                                  # what the mail was about: the notice, the efiling event, the digest's day
                                  _MAIL_REF.get(d.kind, "ref_id"): d.ref_id},
                         data={"kind": d.kind, "status": d.status, "attempts": d.attempts, "smtp_code": smtp_code})
