"""Offset pages a partner can sync with: `sort` (created or updated, either way), `updated_since`
and a `next` link (the same query with the next offset; null on the last page).

Sync: list with `sort=updated_at&updated_since=<the last updated_at you saw>` and follow `next`;
the bound is inclusive, so the last item comes again (skip what you already have by id and
version). A row never updated counts as updated when it was created."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query
from pydantic import AwareDatetime
from sqlalchemy import func
from starlette.requests import Request

Sort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
SORT_DESCRIPTION = "並び順: created_at / updated_at (先頭に - で降順)。同じ時刻は id 順"


def sort_param(name: str) -> Any:
    """The `sort` query parameter of one list, its enum a named component (`PersonSort`) so a
    generated client gets a type of that name (shared/openapi_polish.py hoists it):
    `sort: Annotated[paging.Sort, paging.sort_param("PersonSort")] = "created_at"`."""
    return Query(description=SORT_DESCRIPTION, json_schema_extra={"x-roumu-enum": name})


UpdatedSince = Annotated[AwareDatetime | None, Query(
    description="この時刻以降 (含む) に登録・更新されたものだけ (タイムゾーン付き、例 2026-04-01T00:00:00+09:00)")]
NEXT_DESCRIPTION = "次のページ (同じ条件で offset を進めた URL)。最後のページでは null"


def updated(created: Any, updated_at: Any) -> Any:
    """The time a row last changed: updated_at, or created_at when it never was."""
    return func.coalesce(updated_at, created) if updated_at is not None else created


def order_by(sort: Sort, created: Any, updated_at: Any, key: Any) -> list[Any]:
    column = created if sort.lstrip("-") == "created_at" else updated(created, updated_at)
    if sort.startswith("-"):
        return [column.desc(), key.desc()]
    return [column, key]


def since(created: Any, updated_at: Any, at: datetime | None) -> list[Any]:
    return [] if at is None else [updated(created, updated_at) >= at]


def next_link(request: Request, limit: int, offset: int, total: int) -> str | None:
    if offset + limit >= total:
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
    query += [("limit", str(limit)), ("offset", str(offset + limit))]
    return f"{request.url.path}?{urlencode(query)}"
