"""Partner systems: OAuth2 client credentials (RFC 6749 §4.4), per tenant.

The secret is 256 random bits, shown once at creation and at each rotation, stored as SHA-256
(rules/sessions.hash_token): with that much entropy a slow hash adds nothing but latency on the
token endpoint. Tokens are `typ` "partner" with the tenant (`tid`) and `scope`; every service
verifies them offline like user tokens (shared.tokens.TokenVerifier)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.auth import events
from services.auth.context import AuthContext
from services.auth.models import PartnerClient, TenantRef, messaging
from services.auth.rules import scopes as scope_rules
from services.auth.rules.sessions import hash_token
from shared.errors import ProblemError, not_found
from shared.events import Actor
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER

INVALID_CLIENT = ProblemError(401, "invalid-client", "クライアント認証に失敗しました",
                              headers={"WWW-Authenticate": 'Basic realm="roumu"'}, extra={"error": "invalid_client"})


def invalid_scope(names: list[str] | None = None) -> ProblemError:
    detail = f"使用できないスコープ: {', '.join(names)}" if names else "クライアントに許可されていないスコープです"
    return ProblemError(400, "invalid-scope", "スコープが正しくありません", detail, extra={"error": "invalid_scope"})


@dataclass(frozen=True)
class WithSecret:
    client: PartnerClient
    secret: str


def create(session: Session, ctx: AuthContext, tenant_id: str, name: str, scopes: list[str],
           actor: Actor, jigyosho_ids: list[str] | None = None) -> WithSecret:
    bad = scope_rules.unknown(scopes)
    if bad:
        raise invalid_scope(bad)
    secret = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    client = PartnerClient(client_id=f"pc_{secrets.token_hex(12)}", tenant_id=tenant_id, name=name,
                           token_sid=str(uuid.uuid4()),
                           secret_hash=hash_token(secret), scopes=sorted(set(scopes)), created_at=now,
                           secret_rotated_at=now, created_by=actor.id,
                           jigyosho_ids=None if jigyosho_ids is None else sorted(set(jigyosho_ids)))
    session.add(client)
    messaging.record(session, events.partner_client(events.PARTNER_CLIENT_CREATED, tenant_id, client.client_id,
                                                    actor, name, client.scopes, client.jigyosho_ids))
    return WithSecret(client, secret)


def grant_jigyosho(session: Session, tenant_id: str, client_id: str, jigyosho_ids: list[str] | None,
                   actor: Actor) -> PartnerClient:
    """The 事業所 the client may reach (None = all). Tokens issued from now on carry it; those
    already issued end now (their sid is revoked), so a narrowed grant applies at once."""
    client = _own(session, tenant_id, client_id)
    if client.disabled_at is not None:
        raise not_found()
    client.jigyosho_ids = None if jigyosho_ids is None else sorted(set(jigyosho_ids))
    _revoke_tokens(session, client, actor, "partner_grant_changed")
    messaging.record(session, events.partner_client(events.PARTNER_CLIENT_UPDATED, tenant_id, client_id, actor,
                                                    client.name, client.scopes, client.jigyosho_ids))
    return client


def change_scopes(session: Session, tenant_id: str, client_id: str, scopes: list[str], actor: Actor) -> PartnerClient:
    """The scopes the client may ask for. As with the 事業所 grant, tokens already issued end now:
    a scope taken away must not stay usable until they expire. The client is looked up first: another
    tenant's id answers 404 whatever the body (the isolation sweep)."""
    client = _own(session, tenant_id, client_id)
    if client.disabled_at is not None:
        raise not_found()
    bad = scope_rules.unknown(scopes)
    if bad:
        raise invalid_scope(bad)
    client.scopes = sorted(set(scopes))
    _revoke_tokens(session, client, actor, "partner_scopes_changed")
    messaging.record(session, events.partner_client(events.PARTNER_CLIENT_UPDATED, tenant_id, client_id, actor,
                                                    client.name, client.scopes, client.jigyosho_ids))
    return client


def _own(session: Session, tenant_id: str, client_id: str) -> PartnerClient:
    client = session.get(PartnerClient, client_id)
    if client is None or client.tenant_id != tenant_id:
        raise not_found()
    return client


def rotate(session: Session, ctx: AuthContext, tenant_id: str, client_id: str, actor: Actor) -> WithSecret:
    """A new secret; the old one stops working at once, and so do the tokens issued with it."""
    client = _own(session, tenant_id, client_id)
    if client.disabled_at is not None:
        raise not_found()
    secret = secrets.token_urlsafe(32)
    client.secret_hash, client.secret_rotated_at = hash_token(secret), ctx.clock.now()
    _revoke_tokens(session, client, actor, "partner_secret_rotated")
    messaging.record(session, events.partner_client(events.PARTNER_CLIENT_ROTATED, tenant_id, client_id, actor,
                                                    client.name, client.scopes))
    return WithSecret(client, secret)


def _revoke_tokens(session: Session, client: PartnerClient, actor: Actor, reason: str) -> None:
    """End every token issued so far (they carry the current `sid`); later ones get a new sid."""
    old, client.token_sid = client.token_sid, str(uuid.uuid4())
    if old is not None:
        messaging.record(session, events.partner_tokens_revoked(client.tenant_id, client.client_id, old, actor,
                                                                reason))


def disable(session: Session, ctx: AuthContext, tenant_id: str, client_id: str, actor: Actor) -> None:
    client = _own(session, tenant_id, client_id)
    if client.disabled_at is None:
        client.disabled_at = ctx.clock.now()
        _revoke_tokens(session, client, actor, "partner_client_disabled")
        messaging.record(session, events.partner_client(events.PARTNER_CLIENT_DISABLED, tenant_id, client_id,
                                                        actor, client.name, client.scopes))


@dataclass(frozen=True)
class PartnerToken:
    access_token: str
    expires_in: int
    scope: str


def token(session: Session, ctx: AuthContext, client_id: str, secret: str, requested: str | None) -> PartnerToken:
    client = session.get(PartnerClient, client_id)
    presented = hash_token(secret)
    expected = client.secret_hash if client else hash_token(secrets.token_urlsafe(32))
    if client is None or not secrets.compare_digest(presented, expected) or client.disabled_at is not None:
        raise INVALID_CLIENT
    tenant = session.get(TenantRef, client.tenant_id)
    if tenant is None or tenant.status != "active":
        raise INVALID_CLIENT
    granted = scope_rules.granted(client.scopes, requested)
    if granted is None:
        raise invalid_scope()
    ttl = ctx.settings.partner_token_ttl_seconds
    if client.token_sid is None:  # a client made before tokens were revocable
        client.token_sid = str(uuid.uuid4())
    claims: dict[str, Any] = {"sub": client.client_id, "tid": client.tenant_id, "typ": "partner",
                              "scope": " ".join(granted), "aud": ACCESS_AUDIENCE, "iss": ACCESS_ISSUER,
                              "sid": client.token_sid}
    if client.jigyosho_ids is not None:
        # shared.permissions.partner_jigyosho_claim: every service limits the token to these.
        claims["jigyosho_ids"] = list(client.jigyosho_ids)
    jwt = ctx.keys.signer.sign(claims, ttl)
    return PartnerToken(jwt, ttl, " ".join(granted))
