"""Every event published during the test session matches its JSON Schema.

This test runs last (`runs_last`, see conftest.py). It publishes one canary event through the
accounts service, so the sweep is never vacuous, then reads every message of the session's
stream (settings.nats_stream) with an ephemeral pull consumer from sequence 1 and validates each
against contracts/events/<type>.schema.json. A type without a schema fails, as does a message
whose subject is not its `type` or whose Nats-Msg-Id is not its `id`.

A test that publishes a deliberately invalid message (to exercise a consumer's `term`) marks it
with the header `Roumu-Contract-Exempt: <reason>`; the sweep counts it and skips it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared.event_schemas import EventSchemas, UnknownEventType
from shared.nats_auth import ADMIN
from shared.nats_client import NatsAccess, connect
from tests.conftest import bearer

EXEMPT_HEADER = "Roumu-Contract-Exempt"
SHOWN_PER_TYPE = 3


@dataclass
class Seen:
    message: str  # subject, sequence
    headers: dict[str, str]
    data: bytes


async def read_stream(access: NatsAccess, stream: str) -> list[Seen]:
    """Every message the stream holds now, oldest first."""
    nc = await connect(access, "contract-sweep", max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        last = info.state.last_seq
        if not info.state.messages:
            return []
        sub = await js.pull_subscribe(
            ">", stream=stream,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE,
                                  inactive_threshold=30.0, filter_subject=">"),
        )
        out: list[Seen] = []
        try:
            while True:
                try:
                    batch: list[Msg] = await sub.fetch(500, timeout=2.0)
                except NatsTimeout:
                    break
                for m in batch:
                    seq = m.metadata.sequence.stream if m.metadata else 0
                    out.append(Seen(f"{m.subject} #{seq}", dict(m.headers or {}), m.data))
                tail = batch[-1].metadata if batch else None
                if tail is None or tail.sequence.stream >= last or tail.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return out
    finally:
        await nc.close()


@dataclass
class Report:
    checked: int = 0
    exempt: int = 0
    per_type: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, key: str, problem: str) -> None:
        self.problems[key].append(problem)

    def summary(self) -> str:
        lines = [f"{sum(len(v) for v in self.problems.values())} of {self.checked} published events "
                 "do not match contracts/events/:"]
        for key in sorted(self.problems):
            found = self.problems[key]
            lines.append(f"  {key}: {len(found)} event(s)")
            lines += [f"    {p}" for p in found[:SHOWN_PER_TYPE]]
            if len(found) > SHOWN_PER_TYPE:
                lines.append(f"    ... and {len(found) - SHOWN_PER_TYPE} more")
        return "\n".join(lines)


def check_messages(messages: list[Seen], schemas: EventSchemas) -> Report:
    report = Report()
    for m in messages:
        if EXEMPT_HEADER in m.headers:
            report.exempt += 1
            continue
        report.checked += 1
        subject = m.message.split(" #")[0]
        try:
            event = json.loads(m.data)
        except ValueError:
            report.add(subject, f"{m.message}: not JSON")
            continue
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            report.add(subject, f"{m.message}: not an event envelope (no string `type`)")
            continue
        event_type = event["type"]
        report.per_type[event_type] += 1
        if event_type != subject:
            report.add(event_type, f"{m.message}: published on subject {subject!r}, not its type")
        msg_id = m.headers.get("Nats-Msg-Id")
        if msg_id != event.get("id"):
            report.add(event_type, f"{m.message}: Nats-Msg-Id {msg_id!r} is not the event id {event.get('id')!r}")
        try:
            errors = schemas.errors(event)
        except UnknownEventType:
            report.add(event_type, f"no schema: add contracts/events/{event_type}.schema.json")
            continue
        if errors:
            report.add(event_type, f"{m.message} (id {event.get('id')}): " + "; ".join(errors))
    return report


def test_the_checker_finds_bad_events() -> None:
    """The sweep's judge, on messages made up here: a sweep that cannot fail proves nothing."""
    schemas = EventSchemas()
    event_type = schemas.types[0]
    good_id = str(uuid.uuid4())
    bad = [
        Seen(f"{event_type} #1", {"Nats-Msg-Id": good_id}, json.dumps({"id": good_id, "type": event_type}).encode()),
        Seen("roumu.nobody.thing.done #2", {}, json.dumps({"id": "x", "type": "roumu.nobody.thing.done"}).encode()),
        Seen("roumu.x.y.z #3", {}, b"{not json"),
        Seen("roumu.x.y.z #4", {EXEMPT_HEADER: "consumer term test"}, b"{not json"),
    ]
    report = check_messages(bad, schemas)
    assert report.checked == 3 and report.exempt == 1
    assert "is a required property" in "\n".join(report.problems[event_type])
    assert report.problems["roumu.nobody.thing.done"][-1].startswith("no schema")
    assert report.problems["roumu.x.y.z"] == ["roumu.x.y.z #3: not JSON"]
    assert "do not match" in report.summary()


def _publish_canary(service_client, tokens) -> str:
    client = service_client("accounts")
    r = client.post("/api/v1/accounts/tenants", headers=bearer(tokens.operator()),
                    json={"code": f"sweep-{uuid.uuid4().hex[:8]}", "name": "契約スイープ確認",
                          "kind": "sharoushi", "contract_start": "2026-04-01"})
    assert r.status_code == 201, f"the canary tenant could not be created: {r.status_code} {r.text}"
    tenant_id: str = r.json()["id"]
    return tenant_id


def _has_canary(messages: list[Seen], tenant_id: str) -> bool:
    for m in messages:
        if m.message.startswith("roumu.accounts.tenant.created "):
            try:
                if json.loads(m.data).get("tenant_id") == tenant_id:
                    return True
            except ValueError:
                continue
    return False


@pytest.mark.runs_last
def test_every_published_event_matches_its_schema(settings, service_client, tokens) -> None:
    canary = _publish_canary(service_client, tokens)
    deadline = time.monotonic() + 15
    while True:
        messages = asyncio.run(read_stream(settings.nats_access(ADMIN), settings.nats_stream))
        if _has_canary(messages, canary) or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert messages, f"no event at all in stream {settings.nats_stream}: is the relay publishing?"
    assert _has_canary(messages, canary), (
        f"the canary roumu.accounts.tenant.created (tenant {canary}) never reached stream "
        f"{settings.nats_stream} within 15 s: the outbox relay is not publishing"
    )
    report = check_messages(messages, EventSchemas())
    assert report.checked >= 1
    print(f"swept {report.checked} events ({report.exempt} exempt) in {settings.nats_stream}: "
          + ", ".join(f"{t} x{n}" for t, n in sorted(report.per_type.items())))
    if report.problems:
        pytest.fail(report.summary(), pytrace=False)
