"""The deadlines of a tenant's 雇用保険 procedures, read from koyo_hoken over HTTP
(`GET /api/v1/koyo-hoken/deadlines`, with accounts' service token for the tenant) for the daily
digest mail. Only the 事業所 and the days left are kept: no person leaves koyo_hoken this way."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx

from services.accounts.rules.mail import DueItem
from shared.tokens import TokenSigner, service_token
from shared.topology import api_prefix

PAGE = 100


class DeadlinesUnavailable(Exception):
    pass


class KoyoDeadlines:
    def __init__(self, base_url: str, keys_dir: Path, http: httpx.Client | None = None,
                 timeout_seconds: float = 10.0) -> None:
        self.base = base_url.rstrip("/") + api_prefix("koyo_hoken")
        self.keys_dir = keys_dir
        self._owned = http is None
        self.http = http or httpx.Client(timeout=timeout_seconds, trust_env=False)

    def due_by(self, tenant_id: str, until: date) -> list[DueItem]:
        """Every open deadline of the tenant due on or before `until` (overdue ones included)."""
        items: list[DueItem] = []
        offset = 0
        while True:
            token = service_token(TokenSigner(self.keys_dir, "internal"), "accounts", "koyo_hoken", tenant_id)
            try:
                r = self.http.get(f"{self.base}/deadlines", headers={"Authorization": f"Bearer {token}"},
                                  params={"due_to": until.isoformat(), "limit": PAGE, "offset": offset})
            except httpx.HTTPError as exc:
                raise DeadlinesUnavailable(type(exc).__name__) from exc
            if r.status_code != 200:
                raise DeadlinesUnavailable(f"HTTP {r.status_code}")
            page = r.json()
            items += [DueItem(str(i["jigyosho_id"]), int(i["days_left"])) for i in page["items"]]
            offset += PAGE
            if offset >= int(page["total"]) or not page["items"]:
                return items

    def close(self) -> None:
        if self._owned:
            self.http.close()
