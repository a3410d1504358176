"""The hand-off to e-filing over HTTP: create the filing with the procedure's form data.

koyo_hoken calls efiling's `POST /api/v1/efiling/filings` with a service token (audience
`efiling`, the tenant in `tid`) and `Idempotency-Key` = the procedure id: efiling answers the
filing it first created for a repeated key, so a retry after a lost answer is safe. The form data
holds the My Number as digits; it travels only on this internal call, never in an event."""

from __future__ import annotations

from typing import Any

import httpx

from shared.errors import ProblemError
from shared.service_app import Runtime
from shared.tokens import TokenSigner, service_token
from shared.topology import api_prefix

TIMEOUT_S = 30.0


def create_filing(rt: Runtime, tenant_id: str, procedure_id: str, jigyosho_id: str, form_data: dict[str, Any],
                  applicant: dict[str, str], egov_account_id: str | None, insured_person_id: str) -> str:
    """The efiling filing id for this procedure (created now, or the one created before)."""
    token = service_token(TokenSigner(rt.settings.keys_dir, "internal"), "koyo_hoken", "efiling", tenant_id)
    # insured_person_id: a download of the package showing the number is recorded as a view of it.
    body: dict[str, Any] = {"jigyosho_id": jigyosho_id, "procedure_code": form_data["proc_id"],
                            "insured_person_id": insured_person_id,
                            "title": form_data["title"], "applicant": applicant,
                            "forms": [{"form_id": f["form_id"], "version": f.get("version"), "fields": f["fields"]}
                                      for f in form_data["forms"]]}
    if egov_account_id:
        body["egov_account_id"] = egov_account_id
    url = rt.settings.service_url("efiling") + api_prefix("efiling") + "/filings"
    try:
        r = httpx.post(url, json=body, timeout=TIMEOUT_S, trust_env=False,
                       headers={"Authorization": f"Bearer {token}", "Idempotency-Key": procedure_id})
    except httpx.HTTPError as exc:
        raise ProblemError(502, "bad-gateway", "電子申請サービスに接続できません",
                           "しばらくしてから再度お試しください") from exc
    if r.status_code in (200, 201):
        return str(r.json()["id"])
    if r.status_code == 422:
        problem = r.json()
        # efiling names the refused field (a character e-Gov does not take); pass that on, no values.
        raise ProblemError(422, "efiling-refused", "電子申請の内容に誤りがあります", problem.get("detail"),
                           extra={"errors": problem.get("errors", [])})
    raise ProblemError(502, "bad-gateway", "電子申請サービスがエラーを返しました", f"HTTP {r.status_code}")
