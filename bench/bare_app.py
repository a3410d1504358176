"""The bare endpoint the service frame is measured against (bench/bench_service_frame.py).

The same work as the accounts service's GET and PUT /api/v1/accounts/tenants/{id}, with nothing of
the frame: FastAPI, sync endpoints (Starlette's thread pool, as the service's), EdDSA JWT
verification with pyjwt, then a one-row SQLAlchemy read, or an UPDATE of the row plus one outbox
insert in one transaction, on a database of the same schema (its own copy, so its events are not
the service's). Started by the bench as `uvicorn --factory bench.bare_app:create_app` with
ROUMU_BENCH_BARE_DATABASE_URL and ROUMU_KEYS_DIR set."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import MetaData, Table, insert, select, update

from shared.db import make_engine
from shared.keys import load_public_keys
from shared.tokens import ACCESS_AUDIENCE, ACCESS_ISSUER


class Rename(BaseModel):
    name: str


def create_app() -> FastAPI:
    url = os.environ["ROUMU_BENCH_BARE_DATABASE_URL"]
    keys = {kid: key for kid, (use, key) in load_public_keys(Path(os.environ["ROUMU_KEYS_DIR"])).items()
            if use == "access"}
    engine = make_engine(url)
    # Reads as plain pysqlite does them (no write lock), as the frame's Database.sessions() does.
    reader = engine.execution_options(sqlite_begin="DEFERRED")
    meta = MetaData()
    tenants = Table("tenants", meta, autoload_with=engine)
    outbox = Table("outbox", meta, autoload_with=engine)
    app = FastAPI()

    def verify(request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401)
        try:
            kid = str(jwt.get_unverified_header(token).get("kid"))
            claims: dict[str, Any] = jwt.decode(token, keys[kid], algorithms=["EdDSA"], audience=ACCESS_AUDIENCE,
                                                issuer=ACCESS_ISSUER)
            return claims
        except (jwt.PyJWTError, KeyError) as exc:
            raise HTTPException(401) from exc

    @app.get("/api/v1/accounts/tenants/{tenant_id}")
    def get_tenant(tenant_id: str, request: Request) -> dict[str, Any]:
        verify(request)
        with reader.connect() as conn:
            row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).mappings().first()
        if row is None:
            raise HTTPException(404)
        return {k: row[k] for k in ("id", "code", "name", "kind", "status", "contract_start", "contract_end",
                                    "created_at", "version")}

    @app.put("/api/v1/accounts/tenants/{tenant_id}")
    def put_tenant(tenant_id: str, body: Rename, request: Request) -> dict[str, Any]:
        claims = verify(request)
        expected = request.headers.get("if-match", "").strip('"')
        now = datetime.now(UTC)
        with engine.begin() as conn:
            # The service's optimistic check (If-Match against the version) in the UPDATE itself.
            row = conn.execute(update(tenants).where(tenants.c.id == tenant_id,
                                                     tenants.c.version == int(expected or 0))
                               .values(name=body.name, version=tenants.c.version + 1)
                               .returning(tenants.c.version)).first()
            if row is None:
                raise HTTPException(412)
            event_id = str(uuid.uuid4())
            conn.execute(insert(outbox).values(
                event_id=event_id, subject="roumu.accounts.tenant.updated", aggregate_id=tenant_id,
                payload={"id": event_id, "type": "roumu.accounts.tenant.updated", "tenant_id": tenant_id,
                         "actor": {"kind": "operator", "id": claims["sub"]}, "data": {"name": body.name}},
                created_at=now, attempts=0))
        return {"id": tenant_id, "name": body.name, "version": row[0]}

    return app

