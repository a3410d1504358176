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
from services.auth.policies import tenant_settings
from services.auth.rules import blocklist, password_policy
from shared.db import Database
from shared.events import Actor
from shared.settings import CommonSettings

DEMO_TENANT = "demo"
DEMO_LOGIN = "admin"
# Notices by mail reach the demo admin in make run's mail catcher (var/mail).
DEMO_EMAIL = "admin@demo.example"
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
                    login_id=DEMO_LOGIN, display_name="デモ管理者", roles=["tenant_admin"],
                    email=DEMO_EMAIL), SEEDER)
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


MONITOR_LOGIN = "monitor"


def seed_monitor(settings: CommonSettings, password: str | None = None, tenant_code: str = DEMO_TENANT,
                 login_id: str = MONITOR_LOGIN, reset: bool = False) -> DemoLogin:
    """The monitoring account `ops.monitor` and the restore drill log in with: a `staff` user with
    no menus and no 事業所 (it can reach every service, it can read nothing), in an existing tenant.
    Its password is `password` or ROUMU_MONITOR_PASSWORD; an existing password is kept unless
    `reset`, so a restored database keeps the credential it was backed up with."""
    password = password or os.environ.get("ROUMU_MONITOR_PASSWORD") or None
    if not password:
        raise ValueError("the monitoring account needs a password: set ROUMU_MONITOR_PASSWORD")
    accounts_db = Database(settings.database_url("accounts"))
    auth_db = Database(settings.database_url("auth"))
    try:
        with accounts_db.transaction() as s:
            tenant = accounts_repo.tenant_by_code(s, tenant_code)
            if tenant is None:
                raise ValueError(f"no tenant {tenant_code!r}: create it first (make run seeds `demo`)")
            tenant_id = tenant.id
        with auth_db.transaction() as s:
            cred = auth_repo.credential(s, tenant_id, login_id)
            if cred is not None and cred.password_hash and not reset:
                return DemoLogin(tenant_code, login_id, None, generated=False)
            # Checked before anything is written: stored as it is, a password the policy refuses
            # would end every login in password_change_required, and the monitor would only ever
            # report its login down.
            broken = password_policy.check_content(tenant_settings(s, tenant_id).password, password, login_id,
                                                   blocklist.weakness)
            if broken:
                raise ValueError("the monitoring password breaks the tenant's password policy: "
                                 + " / ".join(v.message for v in broken))
        with accounts_db.transaction() as s:
            user = accounts_repo.user_by_login(s, tenant_id, login_id)
            if user is None:
                user = accounts.create_user(s, tenant_id, UserCreate(
                    login_id=login_id, display_name="監視 (monitoring)", roles=["staff"]), SEEDER)
            user_id = user.id
        with auth_db.transaction() as s:
            auth.provision(s, tenant_id, tenant_code, user_id, login_id, ["staff"], password)
        return DemoLogin(tenant_code, login_id, password, generated=False)
    finally:
        accounts_db.dispose()
        auth_db.dispose()


__all__ = ["DemoLogin", "seed_demo", "seed_monitor"]


if __name__ == "__main__":
    # `python -m ops.seed monitor [--reset]`: the monitoring account in the demo tenant (or
    # ROUMU_MONITOR_TENANT), password from ROUMU_MONITOR_PASSWORD.
    import sys

    from ops.devrun import resolve_settings

    if len(sys.argv) < 2 or sys.argv[1] != "monitor":
        sys.exit("usage: python -m ops.seed monitor [--reset]")
    done = seed_monitor(resolve_settings(), tenant_code=os.environ.get("ROUMU_MONITOR_TENANT") or DEMO_TENANT,
                        login_id=os.environ.get("ROUMU_MONITOR_LOGIN") or MONITOR_LOGIN,
                        reset="--reset" in sys.argv)
    print(f"monitoring account: tenant {done.tenant_code}, login id {done.login_id}"
          + ("" if done.password else " (kept its password; --reset sets it from ROUMU_MONITOR_PASSWORD)"))
