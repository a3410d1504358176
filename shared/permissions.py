"""Menu and 事業所 permissions, checked by every service itself.

accounts owns users, roles and grants; it publishes the whole current grants of a user as
`roumu.accounts.user.permissions_changed` (a snapshot with a growing `permissions_version`).
Each service keeps a read model of them (`permission_grants`, attached to its own metadata like
the outbox) and decides every request with the pure function `decide`:

* an inactive user (disabled, deleted) may do nothing;
* `tenant_admin` holds every menu for writing and every 事業所, **except** the unmasked view of My
  Number (`my_number_unmasked`), which needs an explicit grant even for an administrator;
* `staff` holds the menus granted, `write` implying `read`, and the 事業所 granted (all, or a list);
* a service token (kind "service") is a trusted internal caller acting for its tenant: every menu,
  every 事業所;
* a partner token holds a menu through its OAuth2 scopes (`employees:*` → koyo_hoken,
  `filings:*` → efiling, `documents:*` → files; `:write` implies read), or a route's own scope
  (`require_menu(..., partner_scopes=("mynumber:write",))`), and only the 事業所 the tenant granted
  the client: the token's `jigyosho_ids` claim (absent = every 事業所 of its tenant);
* no read-model row yet (the user was created a moment ago and the event is on its way): the
  token's roles decide, so a brand-new administrator is not refused; a staff token holds nothing.
  Every change after creation leaves a row (disabled and deleted users keep theirs, as tombstones),
  so a revoked grant is never overruled by an older token.

A missing menu is 403; a 事業所 outside the grant is 404, like an id of another tenant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.orm import Session

from shared.db import UtcDateTime
from shared.errors import ProblemError, not_found
from shared.events import EventEnvelope

Level = Literal["read", "write"]
LEVELS: tuple[Level, ...] = ("read", "write")

# Menu keys (at least those of the service sheet's 「メニュー権限」).
KOYO_HOKEN = "koyo_hoken"  # 雇用保険
JIMUKUMIAI = "jimukumiai"  # 事務組合
SHAKAI_HOKEN = "shakai_hoken"  # 社会保険 (健康保険・厚生年金保険)
EFILING = "efiling"  # 電子申請
FILES = "files"  # ファイル
OPERATION_LOGS = "operation_logs"  # 操作ログ
USER_ADMIN = "user_admin"  # 利用者管理
JIGYOSHO_ADMIN = "jigyosho_admin"  # 事業所管理
MY_NUMBER_UNMASKED = "my_number_unmasked"  # マイナンバーのマスク解除表示

MENUS: dict[str, str] = {
    KOYO_HOKEN: "雇用保険",
    JIMUKUMIAI: "事務組合",
    SHAKAI_HOKEN: "社会保険",
    EFILING: "電子申請",
    FILES: "ファイル",
    OPERATION_LOGS: "操作ログ",
    USER_ADMIN: "利用者管理",
    JIGYOSHO_ADMIN: "事業所管理",
    MY_NUMBER_UNMASKED: "マイナンバー表示（マスク解除）",
}
# Menus tenant_admin does not hold by its role alone.
EXPLICIT_ONLY = frozenset({MY_NUMBER_UNMASKED})
PARTNER_SCOPES: dict[str, str] = {KOYO_HOKEN: "employees", EFILING: "filings", FILES: "documents"}

TENANT_ADMIN = "tenant_admin"
STAFF = "staff"
ACTIVE = "active"

PERMISSIONS_CHANGED = "roumu.accounts.user.permissions_changed"
USER_DISABLED = "roumu.accounts.user.disabled"
USER_DELETED = "roumu.accounts.user.deleted"


@dataclass(frozen=True)
class Grants:
    """One user's grants as the read model holds them."""

    roles: frozenset[str]
    menus: Mapping[str, str]
    jigyosho_all: bool
    jigyosho_ids: frozenset[str]
    status: str = ACTIVE
    version: int = 0


@dataclass(frozen=True)
class Decision:
    """Allowed, with the 事業所 the caller may see: None = every 事業所 of the tenant."""

    jigyosho_ids: frozenset[str] | None


def partner_jigyosho_claim(claims: Mapping[str, Any]) -> frozenset[str] | None:
    """The 事業所 a partner token is limited to (claim `jigyosho_ids`); None = every 事業所."""
    ids = claims.get("jigyosho_ids")
    if ids is None:
        return None
    if not isinstance(ids, list):
        return frozenset()  # a malformed claim grants nothing
    return frozenset(str(i) for i in ids)


def level_at_least(held: str | None, wanted: Level) -> bool:
    return held == "write" or (held == "read" and wanted == "read")


def decide(kind: str, token_roles: Iterable[str], scopes: Iterable[str], grants: Grants | None,
           menu: str, level: Level, *, partner_jigyosho: Iterable[str] | None = None,
           partner_scopes: Iterable[str] = ()) -> Decision | None:
    """The permission rule (pure): may this caller use `menu` at `level`, and on which 事業所?
    None = refused. See the module docstring for the rule. `partner_jigyosho`: the partner token's
    granted 事業所 (None = all); `partner_scopes`: scopes that stand in for the menu on one route
    (a write-only scope such as `mynumber:write`)."""
    if menu not in MENUS:
        raise ValueError(f"unknown menu {menu!r}")
    if kind == "service":
        return Decision(None)
    if kind == "partner":
        prefix = PARTNER_SCOPES.get(menu)
        held = set(scopes)
        by_menu = bool(prefix) and (f"{prefix}:write" in held or (level == "read" and f"{prefix}:read" in held))
        if by_menu or held & set(partner_scopes):
            return Decision(None if partner_jigyosho is None else frozenset(partner_jigyosho))
        return None
    if kind != "user":
        return None
    if grants is None:
        # Not replicated yet: only the token's administrator role counts (see module docstring).
        if TENANT_ADMIN in set(token_roles) and menu not in EXPLICIT_ONLY:
            return Decision(None)
        return None
    if grants.status != ACTIVE:
        return None
    if TENANT_ADMIN in grants.roles and menu not in EXPLICIT_ONLY:
        return Decision(None)
    if not level_at_least(grants.menus.get(menu), level):
        return None
    if TENANT_ADMIN in grants.roles:
        return Decision(None)
    return Decision(None if grants.jigyosho_all else grants.jigyosho_ids)


@dataclass(frozen=True)
class Access:
    """What a route may do, as decided for this request: tenant, caller and 事業所 filter."""

    tenant_id: str
    user_id: str
    kind: str
    menu: str
    level: Level
    jigyosho_ids: frozenset[str] | None  # None = all 事業所 of the tenant

    def allows_jigyosho(self, jigyosho_id: str) -> bool:
        return self.jigyosho_ids is None or jigyosho_id in self.jigyosho_ids

    def check_jigyosho(self, jigyosho_id: str) -> None:
        """404 for a 事業所 outside the grant: it looks exactly like a missing one."""
        if not self.allows_jigyosho(jigyosho_id):
            raise not_found()


def menu_forbidden(menu: str, level: Level) -> ProblemError:
    verb = "更新" if level == "write" else "閲覧"
    return ProblemError(403, "forbidden", "この操作を行う権限がありません",
                        f"「{MENUS.get(menu, menu)}」メニューの{verb}権限がありません",
                        extra={"menu": menu, "level": level})


def snapshot_data(roles: Iterable[str], menus: Mapping[str, str], jigyosho_all: bool,
                  jigyosho_ids: Iterable[str], status: str, version: int) -> dict[str, Any]:
    """The `data` of roumu.accounts.user.permissions_changed."""
    return {"roles": sorted(set(roles)), "menus": dict(sorted(menus.items())),
            "jigyosho": {"all": jigyosho_all, "ids": sorted(set(jigyosho_ids))},
            "status": status, "permissions_version": version}


def permission_grants_table(metadata: MetaData) -> Table:
    return Table(
        "permission_grants",
        metadata,
        Column("tenant_id", String(36), primary_key=True),
        Column("user_id", String(36), primary_key=True),
        Column("permissions_version", Integer, nullable=False),
        Column("roles", JSON, nullable=False),
        Column("menus", JSON, nullable=False),
        Column("jigyosho_all", Boolean, nullable=False),
        Column("jigyosho_ids", JSON, nullable=False),
        Column("status", String(20), nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )


class Permissions:
    """The permission read model of one service's metadata, and the handlers that feed it."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = permission_grants_table(metadata)

    def load(self, session: Session, tenant_id: str, user_id: str) -> Grants | None:
        row = session.execute(select(self.table).where(
            self.table.c.tenant_id == tenant_id, self.table.c.user_id == user_id)).mappings().first()
        if row is None:
            return None
        return Grants(roles=frozenset(row["roles"]), menus=dict(row["menus"]), jigyosho_all=row["jigyosho_all"],
                      jigyosho_ids=frozenset(row["jigyosho_ids"]), status=row["status"],
                      version=row["permissions_version"])

    def apply_snapshot(self, session: Session, tenant_id: str, user_id: str, data: Mapping[str, Any]) -> bool:
        """Store a permissions_changed snapshot unless the row already holds a newer or equal one.
        True when it was applied."""
        version = int(data["permissions_version"])
        values = {
            "permissions_version": version, "roles": sorted(data["roles"]),
            "menus": {k: v for k, v in data["menus"].items() if v in LEVELS},
            "jigyosho_all": bool(data["jigyosho"]["all"]), "jigyosho_ids": sorted(data["jigyosho"]["ids"]),
            "status": str(data["status"]), "updated_at": datetime.now(UTC),
        }
        current = session.execute(select(self.table.c.permissions_version).where(
            self.table.c.tenant_id == tenant_id, self.table.c.user_id == user_id)).scalar_one_or_none()
        if current is None:
            session.execute(self.table.insert().values(tenant_id=tenant_id, user_id=user_id, **values))
            return True
        if current >= version:
            return False
        session.execute(update(self.table).where(self.table.c.tenant_id == tenant_id,
                                                 self.table.c.user_id == user_id).values(**values))
        return True

    def set_status(self, session: Session, tenant_id: str, user_id: str, status: str) -> None:
        """A disabled or deleted user holds nothing; the row stays as a tombstone (version kept, so
        only a newer snapshot, e.g. a re-enable, lifts it)."""
        current = self.load(session, tenant_id, user_id)
        if current is None:
            session.execute(self.table.insert().values(
                tenant_id=tenant_id, user_id=user_id, permissions_version=0, roles=[], menus={},
                jigyosho_all=False, jigyosho_ids=[], status=status, updated_at=datetime.now(UTC)))
            return
        session.execute(update(self.table).where(self.table.c.tenant_id == tenant_id,
                                                 self.table.c.user_id == user_id)
                        .values(status=status, updated_at=datetime.now(UTC)))

    def forget_tenant(self, session: Session, tenant_id: str) -> int:
        result = session.execute(delete(self.table).where(self.table.c.tenant_id == tenant_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def handle(self, session: Session, event: EventEnvelope) -> None:
        """Consumer of roumu.accounts.user.> (other user events are ignored)."""
        tenant_id = event.subject.get("tenant_id")
        user_id = event.subject.get("user_id")
        if not tenant_id or not user_id:
            return
        if event.type == PERMISSIONS_CHANGED:
            self.apply_snapshot(session, tenant_id, user_id, event.data)
        elif event.type == USER_DISABLED:
            self.set_status(session, tenant_id, user_id, "disabled")
        elif event.type == USER_DELETED:
            self.set_status(session, tenant_id, user_id, "deleted")
