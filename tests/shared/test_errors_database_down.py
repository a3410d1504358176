"""A service whose database is down answers 503 problem+json with Retry-After, not a 500 (found by
the fault run, tests/security/test_faults.py: every request during a PostgreSQL restart was a 500)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Integer, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.errors import install_error_handlers
from tests.support.nats_server import free_port


def app_on(url: str) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    engine = create_engine(url, connect_args={"connect_timeout": 2} if url.startswith("postgresql") else {})

    @app.get("/read")
    def read() -> dict[str, int]:
        with engine.connect() as conn:
            return {"one": int(conn.execute(text("SELECT 1")).scalar_one())}

    @app.get("/bug")
    def bug() -> dict[str, int]:
        raise RuntimeError("a bug stays a 500")

    return TestClient(app, raise_server_exceptions=False)


def test_postgresql_refusing_connections_is_503() -> None:
    c = app_on(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing_listens_here")
    r = c.get("/read")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "2"
    body = r.json()
    assert body["type"].endswith("/unavailable") and "データベース" in body["detail"]
    assert "127.0.0.1" not in r.text and "psycopg" not in r.text
    assert c.get("/bug").status_code == 500


def test_sqlite_locked_past_its_timeout_is_503(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        c = app_on(f"sqlite:///{path}?timeout=0.2")
        app = c.app
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})

        @app.get("/write")  # type: ignore[attr-defined]
        def write() -> dict[str, str]:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
            return {"ok": "yes"}

        r = c.get("/write")
        assert r.status_code == 503, r.text
        assert r.json()["type"].endswith("/unavailable")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_lost_update_is_409_not_500(tmp_path: Path) -> None:
    """The version check refusing a write (another request changed the row meanwhile)."""
    class Base(DeclarativeBase):
        pass

    class Row(Base):
        __tablename__ = "rows"
        id: Mapped[str] = mapped_column(String(10), primary_key=True)
        value: Mapped[str] = mapped_column(String(10))
        version: Mapped[int] = mapped_column(Integer)
        __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    engine = create_engine(f"sqlite:///{tmp_path / 'v.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Row(id="a", value="x"))
        s.commit()
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/change")
    def change() -> dict[str, str]:
        with Session(engine) as mine:
            row = mine.get(Row, "a")
            assert row is not None
            with Session(engine) as theirs:  # another request, committed in between
                other = theirs.get(Row, "a")
                assert other is not None
                other.value = "theirs"
                theirs.commit()
            row.value = "mine"
            mine.commit()
        return {"ok": "yes"}

    r = TestClient(app, raise_server_exceptions=False).post("/change")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/conflict")
