"""The accounts feed every service runs (shared.service_app) claims only the accounts events one of
its parts acts on (issue #22: the accounts service claimed its own tenant.updated on every PUT, a
write transaction each). What is left unclaimed must be what the parts ignore: every accounts event
type of contracts/events outside the feed's types is given to the feed handler, in a real
transaction on the service database, and no statement but reads may run; inside the types, an event
is claimed in the inbox as before."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from services.jimukumiai.models import jigyosho_directory, messaging, permissions
from services.jimukumiai.retention import PermittedTenantPurge
from shared.consumer import EventConsumer
from shared.db import Database
from shared.events import SYSTEM, EventEnvelope
from shared.service_app import accounts_feed_handler, accounts_feed_types
from shared.settings import CommonSettings

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "events"
ACCOUNTS_TYPES = sorted(p.name.removesuffix(".schema.json") for p in CONTRACTS.glob("roumu.accounts.*.schema.json"))


def _event(event_type: str, tenant: str) -> EventEnvelope:
    # Ids of every kind an accounts event names, so a part that acted on the type would find them.
    return EventEnvelope(type=event_type, tenant_id=tenant, actor=SYSTEM,
                         subject={"tenant_id": tenant, "user_id": "u-1", "jigyosho_id": "js-1"},
                         data={"menus": {"jimukumiai": "write"}, "name": "本社", "status": "active",
                               "permissions_version": 1, "roles": ["staff"], "jigyosho": {"all": True, "ids": []}})


@pytest.fixture
def db(settings: CommonSettings):
    database = Database(settings.database_url("jimukumiai"))
    yield database
    database.dispose()


def test_the_feed_types_are_what_its_parts_act_on():
    purge = PermittedTenantPurge("jimukumiai", messaging)
    types = accounts_feed_types(permissions, purge, jigyosho_directory)
    assert types == {"roumu.accounts.user.permissions_changed", "roumu.accounts.user.disabled",
                     "roumu.accounts.user.deleted", "roumu.accounts.jigyosho.created",
                     "roumu.accounts.jigyosho.updated", "roumu.accounts.jigyosho.closed",
                     "roumu.accounts.tenant.purge_requested"}
    assert types <= set(ACCOUNTS_TYPES)
    assert accounts_feed_types(None, None, None) == frozenset()


@pytest.mark.parametrize("event_type", [t for t in ACCOUNTS_TYPES if t not in {
    "roumu.accounts.user.permissions_changed", "roumu.accounts.user.disabled", "roumu.accounts.user.deleted",
    "roumu.accounts.jigyosho.created", "roumu.accounts.jigyosho.updated", "roumu.accounts.jigyosho.closed",
    "roumu.accounts.tenant.purge_requested"}])
def test_an_event_outside_the_types_changes_nothing_and_is_not_claimed(db: Database, event_type: str):
    feed = accounts_feed_handler(permissions, PermittedTenantPurge("jimukumiai", messaging), jigyosho_directory)
    assert feed is not None
    e = _event(event_type, str(uuid.uuid4()))
    writes: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction() as session:
            feed(session, e)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert writes == []
    consumer = EventConsumer("accounts-feed", "roumu.accounts.>", feed, db, messaging, "nats://unused", "S",
                             wants=accounts_feed_types(permissions, None, jigyosho_directory).__contains__)
    assert consumer.apply(e) is True
    with db.sessions() as session:
        assert session.execute(select(func.count()).select_from(messaging.inbox).where(
            messaging.inbox.c.event_id == e.id)).scalar_one() == 0


def test_an_event_the_feed_acts_on_is_claimed_once(db: Database):
    feed = accounts_feed_handler(permissions, None, jigyosho_directory)
    assert feed is not None
    consumer = EventConsumer("accounts-feed", "roumu.accounts.>", feed, db, messaging, "nats://unused", "S",
                             wants=accounts_feed_types(permissions, None, jigyosho_directory).__contains__)
    e = _event("roumu.accounts.user.permissions_changed", str(uuid.uuid4()))
    assert consumer.apply(e) is True and consumer.apply(e) is False  # the second is the inbox's duplicate
    with db.sessions() as session:
        assert session.execute(select(func.count()).select_from(messaging.inbox).where(
            messaging.inbox.c.event_id == e.id)).scalar_one() == 1
        assert permissions.load(session, e.tenant_id or "", "u-1") is not None
    assert json.loads(e.to_json())["type"] == "roumu.accounts.user.permissions_changed"
