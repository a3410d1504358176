"""What a service answers and logs when a request fails in a way no route foresaw (issue 29 items
8, 11, 12): a 500 carries the request id in its header, its body and its log line, so the id a
caller reports finds the logged cause; a unique violation a concurrent request caused is a 409;
a database pool with no free connection is a 503 that says the service is busy, logged as such."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert
from sqlalchemy.pool import QueuePool

from shared.logging import JsonFormatter
from shared.outbox import Messaging
from shared.service_app import create_service_app
from shared.settings import CommonSettings

router = APIRouter()


@router.get("/boom")
def boom() -> None:
    raise RuntimeError("an unforeseen failure")


# The session's database (SQLite, or PostgreSQL in make test-pg), set by the fixture: the violation
# comes from the real driver (psycopg's SQLSTATE 23505, or sqlite3's message).
DATABASE: dict[str, str] = {}


@router.post("/duplicate")
def duplicate() -> None:
    # A real unique violation, as two parallel creates of one key end, in a throwaway table.
    meta = MetaData()
    table = Table(f"t_dup_{uuid.uuid4().hex[:8]}", meta, Column("id", Integer, primary_key=True))
    engine = create_engine(DATABASE["url"])
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), [{"id": 1}])
            conn.execute(insert(table), [{"id": 1}])
    finally:
        meta.drop_all(engine)
        engine.dispose()


@router.post("/not-null")
def not_null() -> None:
    meta = MetaData()
    table = Table("t", meta, Column("id", Integer, primary_key=True), Column("v", Integer, nullable=False))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "v": None}])


@router.get("/busy")
def busy() -> None:
    # A pool of one connection, held: the next checkout waits pool_timeout and gives up.
    engine = create_engine("sqlite://", poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=0.2)
    with engine.connect(), engine.connect():
        pass


@pytest.fixture
def app_and_log(settings: CommonSettings) -> Iterator[tuple[TestClient, io.StringIO]]:
    DATABASE["url"] = settings.database_url("jimukumiai")
    app = create_service_app("jimukumiai", Messaging(MetaData()), [router], settings=settings, background=False,
                             purge=False)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("jimukumiai"))
    logger = logging.getLogger("roumu.errors")
    logger.addHandler(handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, lines
    finally:
        logger.removeHandler(handler)


def logged(lines: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("sent", [None, "caller-chosen-id-1"])
def test_a_500_carries_the_request_id_in_header_body_and_log(app_and_log: tuple[TestClient, io.StringIO],
                                                              sent: str | None) -> None:
    client, lines = app_and_log
    r = client.get("/boom", headers={"X-Request-Id": sent} if sent else {})
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    rid = r.headers.get("x-request-id")
    assert rid and (sent is None or rid == sent)
    body = r.json()
    assert body["request_id"] == rid
    assert "unforeseen" not in r.text  # no internals in the answer
    [line] = [e for e in logged(lines) if e["msg"] == "unhandled error"]
    assert line["request_id"] == rid and "an unforeseen failure" in str(line["exc"])


def test_a_unique_violation_is_a_409_conflict(app_and_log: tuple[TestClient, io.StringIO]) -> None:
    client, lines = app_and_log
    r = client.post("/duplicate")
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/conflict") and r.json()["request_id"] == r.headers["x-request-id"]
    assert any(e["msg"] == "concurrent write refused by a constraint" for e in logged(lines))


def test_other_integrity_errors_stay_500s(app_and_log: tuple[TestClient, io.StringIO]) -> None:
    # A NOT NULL failure is a bug, not a race: it must not hide behind a 409.
    client, _ = app_and_log
    assert client.post("/not-null").status_code == 500


def test_an_exhausted_pool_is_a_503_saying_busy(app_and_log: tuple[TestClient, io.StringIO]) -> None:
    client, lines = app_and_log
    r = client.get("/busy")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/busy") and "混み合" in body["title"]
    assert r.headers.get("Retry-After")
    [line] = [e for e in logged(lines) if e["msg"] == "database connection pool exhausted"]
    assert line["request_id"] == r.headers["x-request-id"] and line["level"] == "WARNING"

