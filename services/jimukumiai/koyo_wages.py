"""The 雇用保険 wage estimate of a member's 事業所, read from the koyo_hoken service over HTTP
(`GET /api/v1/koyo-hoken/wage-estimate`, with this service's token), so the 年度更新's 賃金総額 can
start from what koyo_hoken knows ("summed from koyo_hoken data where present", issue 7).

Per-person wages stay in koyo_hoken's database and never travel as events; only this call, made
when staff ask, carries them (ids and amounts, no names). The figure is a proposal: nothing is
stored until staff PUT the wages (source `koyo_hoken` marks where they came from)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from shared.errors import ProblemError
from shared.tokens import TokenSigner, service_token
from shared.topology import api_prefix


class KoyoHokenUnavailable(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(503, "koyo-hoken-unavailable", "雇用保険サービスに接続できません",
                         f"しばらくしてから再度お試しください ({detail})")


class KoyoHokenWages:
    """Thread-safe client of koyo_hoken's wage estimate."""

    def __init__(self, base_url: str, keys_dir: Path, http: httpx.Client | None = None,
                 timeout_seconds: float = 10.0) -> None:
        self.base = base_url.rstrip("/") + api_prefix("koyo_hoken")
        self.keys_dir = keys_dir
        self.http = http or httpx.Client(timeout=timeout_seconds, trust_env=False)

    def estimate(self, tenant_id: str, jigyosho_id: str, fiscal_year: int) -> dict[str, Any]:
        # Signed per call: a rotated internal key is picked up at once.
        token = service_token(TokenSigner(self.keys_dir, "internal"), "jimukumiai", "koyo_hoken", tenant_id)
        try:
            r = self.http.get(f"{self.base}/wage-estimate", headers={"Authorization": f"Bearer {token}"},
                              params={"jigyosho_id": jigyosho_id, "fiscal_year": fiscal_year})
        except httpx.HTTPError as exc:
            raise KoyoHokenUnavailable(type(exc).__name__) from exc
        if r.status_code != 200:
            raise KoyoHokenUnavailable(f"HTTP {r.status_code}")
        data: dict[str, Any] = r.json()
        return data

    def close(self) -> None:
        self.http.close()
