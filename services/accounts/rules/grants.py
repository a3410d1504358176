"""Who may give which grants (pure). Tenant administrators manage every user. A staff member
holding the user-admin menu for writing may manage staff, but never beyond what they hold:
no tenant_admin role, no administrator as target, no menu above their own level, no 事業所
outside their own grant, and not their own grants (no self-escalation)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from shared.permissions import TENANT_ADMIN, level_at_least


@dataclass(frozen=True)
class Caller:
    user_id: str
    is_admin: bool
    menus: Mapping[str, str]
    jigyosho_all: bool
    jigyosho_ids: frozenset[str]


def refusal(caller: Caller, target_id: str | None, target_roles_before: Collection[str],
            roles_after: Collection[str], menus_after: Mapping[str, str], jigyosho_all_after: bool,
            jigyosho_ids_after: Collection[str]) -> str | None:
    """None when the caller may make the change; otherwise why not (Japanese, for `detail`)."""
    if caller.is_admin:
        return None
    if target_id is not None and target_id == caller.user_id:
        return "自分自身の権限は変更できません"
    if TENANT_ADMIN in target_roles_before or TENANT_ADMIN in roles_after:
        return "管理者の登録・変更は管理者のみが行えます"
    for menu, level in menus_after.items():
        if level not in ("read", "write") or not level_at_least(caller.menus.get(menu), level):  # type: ignore[arg-type]
            return f"自分が持たない権限は付与できません（{menu}）"
    if jigyosho_all_after and not caller.jigyosho_all:
        return "自分が持たない事業所の権限は付与できません"
    if not caller.jigyosho_all and not set(jigyosho_ids_after) <= caller.jigyosho_ids:
        return "自分が持たない事業所の権限は付与できません"
    return None
