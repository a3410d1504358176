"""The isolation sweep's explicit classification: how each path parameter and each id-carrying body
field is filled from tenant A's world, and what scope it lives in. A route whose parameter or body
id is not listed here fails the sweep until someone classifies it (new routes are covered, or
refused, automatically)."""

from __future__ import annotations

from typing import Any

# scope: "own-tenant" = the caller's own tenant record (only other tenants are refused);
#        "jigyosho" = filed under a 事業所 (staff of another 事業所 must get 404 too);
#        "tenant"   = tenant-wide (only other tenants and missing menus are refused);
#        "self"     = the caller's own (any other user, even of the same tenant, must get 404).
# kind:  "unseeded" = a resource the world cannot make yet (random id; reported as a notice);
#        "resource" = a real id of tenant A from the world; "child" = an id under a real parent in the
#        same path (a random value: the parent is what must be refused); "value" = not an id at all.
PATH_PARAMS: dict[str, tuple[str, str]] = {
    "jigyosho_id": ("resource", "jigyosho"),
    "person_id": ("resource", "jigyosho"),
    "procedure_id": ("resource", "jigyosho"),
    "member_id": ("resource", "jigyosho"),
    "entry_id": ("resource", "jigyosho"),
    "enrolment_id": ("resource", "jigyosho"),
    "shaho_enrolment_id": ("resource", "jigyosho"),  # shakai_hoken: a person's 社会保険 enrolment
    "filing_id": ("resource", "jigyosho"),
    "file_id": ("resource", "jigyosho"),
    # A signed download link is a bearer capability by design (docs/files.md: no bearer token; HMAC,
    # 300 s): whoever holds it may download. Not swept by caller; tampering is tested in test_injection.
    "token": ("capability", "link"),
    "run_id": ("resource", "tenant"),
    "teiji_run_id": ("resource", "tenant"),  # shakai_hoken: a 定時決定 run (results filtered by 事業所)
    "user_id": ("resource", "tenant"),
    "tenant_id": ("resource", "own-tenant"),
    "tenant_code": ("resource", "own-tenant"),
    "account_id": ("resource", "tenant"),
    "certificate_id": ("resource", "tenant"),  # efiling: an office certificate (PKCS#12)
    "client_id": ("resource", "tenant"),
    "serial": ("resource", "tenant"),
    "session_id": ("resource", "self"),
    "endpoint_id": ("resource", "tenant"),  # webhooks: a tenant's endpoint
    # webhooks: deliveries are made by events, which the in-process world does not run: called with a
    # random id only (no 5xx, refused), and printed as a notice that the sweep does not prove them.
    "delivery_id": ("unseeded", "tenant"),
    # accounts: a whole-tenant export (返却) is made by ops.tenant_export, not by the world: random id only.
    "export_id": ("unseeded", "tenant"),
    "document_id": ("child", "jigyosho"),
    "package_id": ("child", "jigyosho"),
    "fiscal_year": ("value", "2025"),
    "month": ("value", "2025-06"),  # shakai_hoken: a premium month
    "rest": ("value", "metadata"),
    # koyo_hoken: a payroll import mapping's name is a key within the caller's own tenant (the same name
    # in another tenant is that tenant's own mapping; tests/koyo_hoken/test_payroll_intake.py shows one
    # tenant cannot use another's).
    "name": ("value", "kyuyo"),
}

# Required query parameters that are not references (a route with one not listed here fails the sweep).
QUERY_VALUES: dict[str, str] = {"fiscal_year": "2025", "rishoku_date": "2025-03-31", "closing_day": "31"}

# Required headers the sweep must send for a call to reach the id check.
# If-Match: required by the contracts where the server answers 428 without it; a stale version is
# fine here, the refusal (404/403) comes before the version check.
REQUEST_HEADERS: dict[str, str] = {"Content-Disposition": 'attachment; filename="a.pdf"', "If-Match": '"1"'}

# Body fields (and required query parameters) that name a resource: field -> (world key, scope).
# Fields ending in _id/_ids that are not references are listed in BODY_NOT_REFERENCES.
BODY_REFERENCES: dict[str, tuple[str, str]] = {
    "jigyosho_id": ("jigyosho_id", "jigyosho"),
    "to_jigyosho_id": ("jigyosho_id", "jigyosho"),
    "insured_person_id": ("person_id", "jigyosho"),
    "egov_account_id": ("account_id", "tenant"),
    "certificate_id": ("certificate_id", "tenant"),  # the certificate chosen for an e-Gov account
    "filing_ids": ("filing_id", "jigyosho"),
    "jigyosho_ids": ("jigyosho_id", "jigyosho"),  # a partner client's 事業所 restriction
    "person_id": ("person_id", "jigyosho"),  # query: audit-log my-number-views of one person
}
BODY_NOT_REFERENCES = {
    "login_id": "the user's own chosen name, not a reference",
    "client_id": "OAuth2 client credentials: the secret decides, answered 401 for any unknown pair",
    "tenant_id": "notices: operators only (tenant users are refused 403 whatever the id)",
}

# A valid body for operations whose generated minimal body would not pass validation (a 422 proves
# nothing about isolation). Placeholders "{name}" are replaced with world ids.
BODIES: dict[str, Any] = {
    "POST /api/v1/koyo-hoken/insured-persons": {
        "jigyosho_id": "{jigyosho_id}", "family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ",
        "given_name_kana": "タロウ", "birth_date": "1990-04-01", "hire_date": "2025-04-15", "weekly_hours": "40",
        "gender": "male", "employment_type": "regular", "wage_payment": "monthly", "monthly_wage": 300000,
        "job_type": "事務"},
    "POST /api/v1/koyo-hoken/procedures": {
        "insured_person_id": "{person_id}", "kind": "shikaku_shutoku", "event_date": "2025-04-15"},
    "PUT /api/v1/koyo-hoken/insured-persons/{person_id}/my-number": {"my_number": "123456789018"},
    "POST /api/v1/koyo-hoken/insured-persons/{person_id}/my-number-intake": {"my_number": "123456789018"},
    "PATCH /api/v1/koyo-hoken/insured-persons/{person_id}": {"job_type": "営業"},
    "PATCH /api/v1/koyo-hoken/procedures/{procedure_id}": {"event_date": "2025-04-16"},
    "POST /api/v1/koyo-hoken/procedures/{procedure_id}/transitions": {"state": "withdrawn", "reason": "x"},
    "POST /api/v1/jimukumiai/members": {
        "jigyosho_id": "{jigyosho_id}", "name": "株式会社攻撃", "labour_insurance_number": "13101999999000",
        "entrusted_from": "2020-04-01", "regular_workers": 12, "main_business": "other", "rousai_code": "94",
        "koyo_kubun": "ippan"},
    "POST /api/v1/jimukumiai/clients": {
        "jigyosho_id": "{jigyosho_id}", "name": "株式会社攻撃", "labour_insurance_number": "13101999998000",
        "client_from": "2020-04-01", "rousai_code": "94", "koyo_kubun": "ippan"},
    "PATCH /api/v1/jimukumiai/members/{member_id}": {"regular_workers": 3},
    "POST /api/v1/jimukumiai/members/{member_id}/leave": {"entrusted_until": "2025-04-01"},
    "POST /api/v1/jimukumiai/members/{member_id}/ledger": {
        "kind": "collected", "fiscal_year": 2025, "amount": 1, "occurred_on": "2025-05-01"},
    "POST /api/v1/jimukumiai/ledger/{entry_id}/reverse": {},
    "POST /api/v1/jimukumiai/members/{member_id}/special-enrolments": {
        "person_name": "攻撃", "role": "owner", "daily_amount": 10_000, "joined_on": "2024-04-01"},
    "POST /api/v1/jimukumiai/members/{member_id}/special-enrolments/{enrolment_id}/leave":
        {"left_on": "2025-04-01"},
    "POST /api/v1/efiling/filings": {
        "jigyosho_id": "{jigyosho_id}", "procedure_code": "950A010002012000", "title": "資格取得届"},
    "POST /api/v1/efiling/filings/bulk-submit": {"filing_ids": ["{filing_id}"]},
    "POST /api/v1/efiling/filings/{filing_id}/submit": {"egov_account_id": "{account_id}"},
    "PUT /api/v1/accounts/jigyosho/{jigyosho_id}": {"name": "乗っ取り", "name_kana": "ノットリ", "address": "x"},
    "PUT /api/v1/accounts/users/{user_id}": {
        "login_id": "a-staff-j1", "display_name": "乗っ取り", "roles": ["staff"],
        "grants": {"menus": {"koyo_hoken": "write"}, "jigyosho": {"all": True, "ids": []}}},
    "POST /api/v1/auth/users/{user_id}/password-reset": {"temporary_password": "a-long-enough-password-乗っ取り"},
    "POST /api/v1/accounts/jigyosho/{jigyosho_id}/close": {"closed_on": "2025-04-01"},
    "PUT /api/v1/jimukumiai/members/{member_id}/wages/{fiscal_year}": {"rousai_wages": 1000, "koyo_wages": 1000},
    "POST /api/v1/efiling/filings/{filing_id}/withdraw": {"reason": "取り下げ"},
    "PUT /api/v1/shakai-hoken/offices/{jigyosho_id}": {
        "seiri_kigo": "01-イロハ", "office_number": "12345", "insurer_kind": "kyokai", "prefecture": "13"},
    "POST /api/v1/shakai-hoken/enrolments": {
        "insured_person_id": "{person_id}", "birth_date": "1990-04-01", "acquired_on": "2025-05-01",
        "remuneration": 300000},
    "POST /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/loss": {"last_day": "2025-06-30"},
    "PUT /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/pay-months/{month}": {"pay": 300000, "base_days": 30},
    "POST /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/bonuses": {"paid_on": "2025-07-10", "amount": 100000},
    "POST /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/standard-remunerations": {
        "effective_from": "2025-09", "remuneration": 320000, "reason": "teiji"},
    "POST /api/v1/shakai-hoken/enrolments/{shaho_enrolment_id}/zuiji-check": {
        "first_paid": "2025-07", "direction": "up", "months": [
            {"month": "2025-07", "pay": 400000, "base_days": 31}, {"month": "2025-08", "pay": 400000, "base_days": 31},
            {"month": "2025-09", "pay": 400000, "base_days": 30}]},
}

# GET operations whose owner may get 404 in the in-process world (what they show is made by a
# background job the world does not run); the ids in their path are still proven by the others.
OWNER_404_OK: dict[str, str] = {
    "GET /api/v1/jimukumiai/members/{member_id}/renewals/{fiscal_year}":
        "renewals are computed by the renewal run's background job",
}

# Genuine findings, reported and awaiting a fix in the service. The sweep still makes the call; a
# listed failure is printed, not failed, and an entry that no longer fails fails the suite (remove it).
# Keys: "<METHOD> <path template> as <caller>".
KNOWN_FAILURES: dict[str, str] = {}
