"""Auth test helpers: an auth app on a frozen clock, tenants and users provisioned straight into
auth's database (as the seed does), tenant settings applied through the real event handler."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.auth import service
from services.auth.models import messaging
from services.auth.passwords import Passwords
from shared.clock import FrozenClock
from shared.events import Actor, EventEnvelope
from shared.service_app import Runtime

LOGIN = "/api/v1/auth/login"
API = "/api/v1/auth"
UA = "Mozilla/5.0 (roumu-tests)"


def strong(tag: str = "") -> str:
    """A password every rule accepts: long, random, no login id."""
    return f"Kestrel-{tag}-{secrets.token_hex(4)}-orbit-Lantern"


@dataclass
class Tenant:
    client: TestClient
    tenant_id: str
    code: str
    users: dict[str, str] = field(default_factory=dict)  # login_id -> user_id
    # A source address of its own (as the gateway would set it): the per-source throttle must
    # not count other tests' failures against this one.
    ip: str = field(default_factory=lambda: f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}")

    @property
    def rt(self) -> Runtime:
        rt: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return rt

    def add_user(self, login_id: str, password: str, roles: tuple[str, ...] = ("staff",)) -> str:
        user_id = str(uuid.uuid4())
        with self.rt.transaction() as s:
            service.provision(s, self.tenant_id, self.code, user_id, login_id, list(roles), password,
                              clock=self.rt.extras["auth"].clock)
        self.users[login_id] = user_id
        return user_id

    def settings(self, **data: Any) -> None:
        """roumu.accounts.tenant.settings_changed as accounts publishes it (checked against its
        schema here), applied by auth's own handler."""
        from shared.event_schemas import EventSchemas

        body = {"totp_required": False, "device_cert_required": False, "ip_allowlist": [],
                "password_policy": {}, "lockout_policy": {}, **data}
        event = EventEnvelope(type="roumu.accounts.tenant.settings_changed", tenant_id=self.tenant_id,
                              actor=Actor(kind="system", id="tests"), subject={"tenant_id": self.tenant_id},
                              data=body)
        assert EventSchemas().errors(event.model_dump(mode="json")) == []
        with self.rt.transaction() as s:
            service.on_tenant_settings_changed(s, event)

    def login(self, login_id: str, password: str, headers: dict[str, str] | None = None,
              code: str | None = None) -> Any:
        return self.client.post(LOGIN, json={"tenant_code": code or self.code, "login_id": login_id,
                                             "password": password},
                                headers={"User-Agent": UA, "X-Roumu-Client-IP": self.ip, **(headers or {})})

    def token(self, login_id: str, password: str) -> dict[str, Any]:
        r = self.login(login_id, password)
        assert r.status_code == 200 and r.json()["status"] == "authenticated", r.text
        body: dict[str, Any] = r.json()
        return body

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """What auth wrote to its outbox for this tenant (the events it publishes)."""
        with self.rt.db.transaction() as s:
            rows = s.execute(select(messaging.outbox.c.payload).order_by(messaging.outbox.c.seq)).scalars().all()
        return [p for p in rows if (type_ is None or p["type"] == type_) and
                (p.get("tenant_id") in (self.tenant_id, None))]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock() -> FrozenClock:
    # Starts at the real now: access tokens are signed on the real clock (every service checks
    # `exp` on its own), while auth's rules run on this one.
    return FrozenClock(datetime.now(UTC))


# Cheap hashing where a test needs dozens of password changes; the cost is not what it tests.
CHEAP = Passwords(memory_kib=1024, time_cost=1)


@pytest.fixture
def auth(service_client, clock) -> TestClient:
    client: TestClient = service_client("auth", clock=clock, passwords=CHEAP)
    return client


@pytest.fixture
def tenant(auth) -> Tenant:
    code = f"t{uuid.uuid4().hex[:10]}"
    return Tenant(auth, str(uuid.uuid4()), code)
