"""The security suite's world: every service in-process (its real app, its real database), two
tenants, two 事業所 in the first, staff users with different grants, and one resource of every kind
the API has, owned by tenant A and filed under 事業所 J1.

Resources are made through the API as tenant A's administrator; only what the API cannot make
(tenants, auth credentials, the services' permission read models, normally fed by events) is
written directly, the way ops.seed and tests/services/grants.py do."""

from __future__ import annotations

import importlib
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from httpx import Response

from services.accounts import service as accounts_service
from services.accounts.schemas import TenantCreate, UserCreate
from services.auth import service as auth_service
from shared.db import Database
from shared.events import Actor
from shared.permissions import MENUS
from shared.settings import CommonSettings
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER
from shared.topology import api_prefix
from tests.conftest import Tokens, bearer
from tests.services.grants import GrantSeeder
from tests.support.jigyosho import DIRECTORY_SERVICES, JigyoshoSeeder

SEEDER = Actor(kind="system", id="tests.security")
EVERY_MENU = {m: "write" for m in MENUS}
MY_NUMBER = "123456789018"  # a valid check digit
PASSWORD = "security-suite-パスワード-長い"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
_numbers = itertools.count(1)


def csr_pem(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def person_body(jigyosho_id: str, **over: Any) -> dict[str, Any]:
    body = {"jigyosho_id": jigyosho_id, "family_name": "山田", "given_name": "太郎",
            "family_name_kana": "ヤマダ", "given_name_kana": "タロウ", "birth_date": "1990-04-01",
            "hire_date": "2025-04-15", "weekly_hours": "40", "gender": "male", "employment_type": "regular",
            "wage_payment": "monthly", "monthly_wage": 300000, "job_type": "事務"}
    return {**body, **over}


def member_body(jigyosho_id: str, **over: Any) -> dict[str, Any]:
    body = {"jigyosho_id": jigyosho_id, "name": "株式会社山田商店",
            "labour_insurance_number": f"13101{next(_numbers) % 1_000_000:06d}000", "entrusted_from": "2020-04-01",
            "regular_workers": 12, "main_business": "other", "rousai_code": "94", "koyo_kubun": "ippan"}
    return {**body, **over}


@dataclass
class Principal:
    name: str
    tenant_id: str
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class World:
    settings: CommonSettings
    tokens: Tokens
    clients: dict[str, TestClient]
    tenant_a: str = ""
    tenant_a_code: str = ""
    tenant_b: str = ""
    j1: str = ""
    j2: str = ""
    principals: dict[str, Principal] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # path parameter name -> tenant A's resource
    notes: list[str] = field(default_factory=list)  # resources the world could not make (reported)

    # The client address auth sees (as the gateway forwards it): one of its own per world, so the
    # failures one suite provokes on purpose do not throttle the logins of the next world.
    client_ip: str = field(default_factory=lambda: f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}")

    def call(self, service: str, method: str, path: str, who: str | None = None, **kw: Any) -> Response:
        headers = {"x-roumu-client-ip": self.client_ip, **(self.principals[who].headers if who else {}),
                   **kw.pop("headers", {})}
        return self.clients[service].request(method.upper(), path, headers=headers, **kw)

    def made(self, service: str, method: str, path: str, key: str, field_name: str = "id", who: str = "a_admin",
             expect: tuple[int, ...] = (200, 201), pick: Callable[[dict[str, Any]], str] | None = None,
             **kw: Any) -> dict[str, Any] | None:
        r = self.call(service, method, f"{api_prefix(service)}{path}", who, **kw)
        if r.status_code not in expect:
            self.notes.append(f"{service} {method} {path}: {r.status_code} {r.text[:300]}")
            return None
        body: dict[str, Any] = r.json() if r.content else {}
        if key and pick is not None:
            self.ids[key] = pick(body)
        elif key and field_name in body:
            self.ids[key] = str(body[field_name])
        return body


def user_token(tokens: Tokens, tenant_id: str, user_id: str, roles: tuple[str, ...]) -> str:
    return tokens.access.sign({"sub": user_id, "tid": tenant_id, "typ": "access", "kind": "user",
                               "roles": list(roles), "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER}, 3600)


def login(w: World, tenant_code: str, login_id: str) -> str | None:
    """A real access token (auth's own routes want a live session), or None without auth."""
    if "auth" not in w.clients:
        return None
    r = w.call("auth", "post", "/api/v1/auth/login",
               json={"tenant_code": tenant_code, "login_id": login_id, "password": PASSWORD})
    token = r.json().get("access_token") if r.status_code == 200 else None
    if token is None:
        w.notes.append(f"login {login_id}: {r.status_code} {r.text[:300]}")
    return token


def open_tenant(settings: CommonSettings, label: str) -> tuple[str, str, str]:
    """A tenant and its administrator (accounts), with a password (auth): (tenant id, code, admin id)."""
    code = f"sec-{label}-{uuid.uuid4().hex[:8]}"
    accounts_db, auth_db = Database(settings.database_url("accounts")), Database(settings.database_url("auth"))
    try:
        with accounts_db.transaction() as s:
            tenant = accounts_service.create_tenant(s, TenantCreate(
                code=code, name=f"セキュリティ試験 {label}", kind="both", contract_start=date(2024, 4, 1),
                # A contract end far ahead: the termination schedule exists (its owner reads it), and
                # nothing of it is due.
                contract_end=date(2099, 3, 31)), SEEDER)
            admin = accounts_service.create_user(s, tenant.id, UserCreate(
                login_id="admin", display_name="管理者", roles=["tenant_admin"]), SEEDER)
            tenant_id, admin_id = tenant.id, admin.id
        with auth_db.transaction() as s:
            auth_service.provision(s, tenant_id, code, admin_id, "admin", ["tenant_admin"], PASSWORD)
        return tenant_id, code, admin_id
    finally:
        accounts_db.dispose()
        auth_db.dispose()


def build_world(settings: CommonSettings, tokens: Tokens, grants: GrantSeeder,
                clients: dict[str, TestClient]) -> World:
    w = World(settings, tokens, clients)
    w.tenant_a, w.tenant_a_code, a_admin = open_tenant(settings, "a")
    w.tenant_b, b_code, b_admin = open_tenant(settings, "b")
    admin_roles = ("tenant_admin",)
    # Administrators also hold the unmasked My Number view, so no refusal is about that menu alone.
    for tenant, user in ((w.tenant_a, a_admin), (w.tenant_b, b_admin)):
        grants.seed(tenant, user, EVERY_MENU, roles=admin_roles)
    w.principals["a_admin"] = Principal("a_admin", w.tenant_a, a_admin,
                                        login(w, w.tenant_a_code, "admin") or
                                        user_token(tokens, w.tenant_a, a_admin, admin_roles))
    w.principals["b_admin"] = Principal("b_admin", w.tenant_b, b_admin,
                                        login(w, b_code, "admin") or
                                        user_token(tokens, w.tenant_b, b_admin, admin_roles))

    # Two 事業所 of tenant A.
    for key in ("j1", "j2"):
        body = w.made("accounts", "post", "/jigyosho", "", json={
            "name": f"事業所{key}", "name_kana": "ジギョウショ", "address": "東京都千代田区1-1"})
        assert body, w.notes
        setattr(w, key, body["id"])
    w.ids["jigyosho_id"] = w.j1
    # No consumers run here: the 事業所 master read models learn them as grants do, directly.
    seeder = JigyoshoSeeder(settings)
    seeder.open(w.tenant_a, w.j1, w.j2, services=[s for s in DIRECTORY_SERVICES if s in clients])
    seeder.dispose()

    # Staff of tenant A: every menu on J2 only; no menu at all on every 事業所; and a J1 staff member
    # (the user the user routes aim at).
    staff = {"a_staff_j2": (EVERY_MENU, False, [w.j2]), "a_nomenu": ({}, True, []),
             "a_staff_j1": (EVERY_MENU, False, [w.j1])}
    for name, (menus, all_j, ids) in staff.items():
        body = w.made("accounts", "post", "/users", "", json={
            "login_id": name.replace("_", "-"), "display_name": name, "roles": ["staff"],
            "grants": {"menus": {k: v for k, v in menus.items() if k != "my_number_unmasked"},
                       "jigyosho": {"all": all_j, "ids": ids}}})
        assert body, w.notes
        grants.seed(w.tenant_a, body["id"], menus, jigyosho_all=all_j, jigyosho_ids=ids)
        auth_db = Database(settings.database_url("auth"))
        with auth_db.transaction() as s:
            auth_service.provision(s, w.tenant_a, w.tenant_a_code, body["id"], name.replace("_", "-"), ["staff"],
                                   PASSWORD)
        auth_db.dispose()
        w.principals[name] = Principal(name, w.tenant_a, body["id"],
                                       login(w, w.tenant_a_code, name.replace("_", "-")) or
                                       user_token(tokens, w.tenant_a, body["id"], ("staff",)))
    w.ids["user_id"] = w.principals["a_staff_j1"].user_id
    w.ids["tenant_id"] = w.tenant_a
    w.ids["tenant_code"] = w.tenant_a_code

    _seed_resources(w)
    return w


def _seed_resources(w: World) -> None:
    j1 = w.j1
    if "koyo_hoken" in w.clients:
        person = w.made("koyo_hoken", "post", "/insured-persons", "person_id", json=person_body(j1))
        if person:
            w.made("koyo_hoken", "put", f"/insured-persons/{person['id']}/my-number", "",
                   json={"my_number": MY_NUMBER}, headers={"If-Match": f'"{person["version"]}"'})
            w.made("koyo_hoken", "post", "/procedures", "procedure_id", json={
                "insured_person_id": person["id"], "kind": "shikaku_shutoku", "event_date": "2025-04-15"})
    if "shakai_hoken" in w.clients and "person_id" in w.ids:
        _seed_shakai_hoken(w, j1)
    if "jimukumiai" in w.clients:
        member = w.made("jimukumiai", "post", "/members", "member_id", json=member_body(j1))
        if member:
            mid = member["id"]
            w.made("jimukumiai", "post", f"/members/{mid}/ledger", "entry_id", json={
                "kind": "collected", "fiscal_year": 2025, "amount": 1000, "occurred_on": "2025-05-01"})
            w.made("jimukumiai", "post", f"/members/{mid}/special-enrolments", "enrolment_id", json={
                "person_name": "山田太郎", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-04-01"})
            w.made("jimukumiai", "put", f"/members/{mid}/wages/2025", "", json={
                "rousai_wages": 30_000_000, "koyo_wages": 30_000_000})  # a first report: no precondition
        w.made("jimukumiai", "post", "/renewal-runs", "run_id", json={"fiscal_year": 2025})
    if "efiling" in w.clients:
        w.made("efiling", "post", "/egov-accounts", "account_id", pick=lambda b: str(b["account"]["id"]),
               json={"label": "事務所アカウント"})
        from tests.services.efiling.certs import PASSWORD as P12_PASSWORD
        from tests.services.efiling.certs import make_p12

        w.made("efiling", "post", "/certificates", "certificate_id",
               files={"file": ("office.p12", make_p12()[0], "application/x-pkcs12")},
               data={"password": P12_PASSWORD, "label": "事務所"})
        w.made("efiling", "post", "/filings", "filing_id", json={
            "jigyosho_id": j1, "procedure_code": "950A010002012000", "title": "雇用保険被保険者資格取得届"})
    if "files" in w.clients:
        f = w.made("files", "post", f"/files?jigyosho_id={j1}", "file_id",
                   files={"file": ("a.pdf", PDF, "application/pdf")})
        if f:
            w.made("files", "post", f"/files/{f['id']}/download-link", "token",
                   pick=lambda b: str(b["url"]).rstrip("/").rsplit("/", 1)[-1])
    if "webhooks" in w.clients:
        types = w.call("webhooks", "get", "/api/v1/webhooks/event-types", "a_admin")
        listed = types.json() if types.status_code == 200 else []
        listed = listed.get("items", listed) if isinstance(listed, dict) else listed
        first = listed[0] if listed else "roumu.koyo_hoken.procedure.created"
        first = first.get("type", first.get("name")) if isinstance(first, dict) else first
        w.made("webhooks", "post", "/endpoints", "endpoint_id", json={
            "url": "https://partner.example.com/hooks", "event_types": [first], "description": "security"})
    if "auth" in w.clients:
        w.made("auth", "post", "/partner-clients", "client_id", field_name="client_id",
               json={"name": "partner", "scopes": ["employees:read"]})
        w.made("auth", "post", "/device-certificates", "serial", field_name="serial",
               json={"csr_pem": csr_pem("device"), "label": "端末"})
        sessions = w.call("auth", "get", "/api/v1/auth/me/sessions", "a_staff_j1")
        items = sessions.json() if sessions.status_code == 200 else []
        items = items.get("items", items) if isinstance(items, dict) else items
        if items:
            w.ids["session_id"] = str(items[0].get("id") or items[0].get("session_id"))
        else:
            w.notes.append(f"auth sessions: {sessions.status_code} {sessions.text[:300]}")


def _seed_shakai_hoken(w: World, j1: str) -> None:
    """社会保険: koyo_hoken's person reaches shakai_hoken's read model by koyo_hoken's event (no consumers
    run here: applied directly, through the consumer's own handler), then the API makes the rest."""
    from services.shakai_hoken import service as shaho_service
    from tests.shakai_hoken.support import person_registered

    db = Database(w.settings.database_url("shakai_hoken"))
    with db.transaction() as s:
        shaho_service.on_koyo_person_event(s, person_registered(w.tenant_a, j1, w.ids["person_id"], "2025-04-15"))
    db.dispose()
    w.made("shakai_hoken", "put", f"/offices/{j1}", "", json={
        "seiri_kigo": "01-イロハ", "office_number": "12345", "insurer_kind": "kyokai", "prefecture": "13"})
    w.made("shakai_hoken", "post", "/enrolments", "shaho_enrolment_id", json={
        "insured_person_id": w.ids["person_id"], "birth_date": "1990-04-01", "acquired_on": "2025-04-15",
        "remuneration": 300_000})
    if "shaho_enrolment_id" in w.ids:
        w.made("shakai_hoken", "put", f"/enrolments/{w.ids['shaho_enrolment_id']}/pay-months/2025-06", "",
               json={"pay": 300_000, "base_days": 30})
    w.made("shakai_hoken", "post", "/teiji-runs", "teiji_run_id", json={"year": 2025})


def open_clients(settings: CommonSettings, names: list[str], background: bool = False) -> dict[str, TestClient]:
    clients: dict[str, TestClient] = {}
    for name in names:
        module = importlib.import_module(f"services.{name}.app")
        client = TestClient(module.create_app(settings=settings, background=background),
                            raise_server_exceptions=False)
        client.__enter__()
        clients[name] = client
    return clients


def close_clients(clients: dict[str, TestClient]) -> None:
    for c in clients.values():
        c.__exit__(None, None, None)
