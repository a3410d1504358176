"""Seed the demo tenant and its administrator (used by `make run`). Idempotent: a second run
keeps the data and answers the existing login."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date

from services.accounts import repository as accounts_repo
from services.accounts import service as accounts
from services.accounts.schemas import TenantCreate, UserCreate
from services.auth import repository as auth_repo
from services.auth import service as auth
from shared.db import Database
from shared.events import Actor
from shared.settings import CommonSettings

DEMO_TENANT = "demo"
DEMO_LOGIN = "admin"
SEEDER = Actor(kind="system", id="ops.seed")


@dataclass(frozen=True)
class DemoLogin:
    tenant_code: str
    login_id: str
    password: str | None  # None when it was set at an earlier run and not given again
    generated: bool


def seed_demo(settings: CommonSettings, password: str | None = None) -> DemoLogin:
    password = password or os.environ.get("ROUMU_DEMO_ADMIN_PASSWORD") or None
    accounts_db = Database(settings.database_url("accounts"))
    auth_db = Database(settings.database_url("auth"))
    try:
        with accounts_db.transaction() as s:
            tenant = accounts_repo.tenant_by_code(s, DEMO_TENANT)
            if tenant is None:
                tenant = accounts.create_tenant(s, TenantCreate(
                    code=DEMO_TENANT, name="デモ社会保険労務士事務所", kind="both",
                    contract_start=date.today().replace(month=4, day=1)), SEEDER)
            admin = accounts_repo.user_by_login(s, tenant.id, DEMO_LOGIN)
            if admin is None:
                admin = accounts.create_user(s, tenant.id, UserCreate(
                    login_id=DEMO_LOGIN, display_name="デモ管理者", roles=["tenant_admin"]), SEEDER)
            tenant_id, user_id = tenant.id, admin.id
        with auth_db.transaction() as s:
            cred = auth_repo.credential(s, tenant_id, DEMO_LOGIN)
            if cred is not None and cred.password_hash and not password:
                return DemoLogin(DEMO_TENANT, DEMO_LOGIN, None, generated=False)
            generated = password is None
            password = password or secrets.token_urlsafe(12)
            auth.provision(s, tenant_id, DEMO_TENANT, user_id, DEMO_LOGIN, ["tenant_admin"], password)
        return DemoLogin(DEMO_TENANT, DEMO_LOGIN, password, generated=generated)
    finally:
        accounts_db.dispose()
        auth_db.dispose()


__all__ = ["DemoLogin", "seed_demo"]
