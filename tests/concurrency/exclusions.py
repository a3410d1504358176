"""Write routes the concurrency suite consciously does not race, each with a one-line reason.

tests/concurrency/test_route_listing.py lists every POST/PUT/PATCH/DELETE route of every service
and fails for a route that is neither covered by a case (`@covers(...)` / `COVERS`) nor listed
here; it also fails for a route both covered and listed, and for a listed route that no longer
exists. "Not covered yet" entries are the suite's to-do list, not a claim that the route is safe."""

from __future__ import annotations

A = "/api/v1/auth"
AC = "/api/v1/accounts"
K = "/api/v1/koyo-hoken"
J = "/api/v1/jimukumiai"
E = "/api/v1/efiling"
AL = "/api/v1/audit-log"
F = "/api/v1/files"
W = "/api/v1/webhooks"
SH = "/api/v1/shakai-hoken"

COMPUTES = "computes and answers; writes nothing, so parallel calls have nothing to conflict on"
SANDBOX = "e-Gov sandbox: a stand-in for the outside system in tests and local runs, not the product"
DISABLED = "answers 403 always (the feature is switched off in this build); writes nothing"
VERSIONED = ("If-Match update of a versioned row: the version column makes the UPDATE conditional, so "
             "a lost race is refused (412/409); If-Match races held under issue 29's outside probe")
IDEMPOTENT = ("create with Idempotency-Key: a replay answers the first result (shared.idempotency); "
              "idempotent creates held under issue 29's outside probe")


EXPORT_READS = ("a tenant's export share: reads the tenant's rows and files and answers them, writes nothing; "
                "operators and service tokens only")


def pending(file: str) -> str:
    return f"covered by tests/concurrency/{file} (pending merge)"


def not_yet(what: str) -> str:
    return f"not covered yet: {what}"


EXCLUDED: dict[str, str] = {
    # --- auth -------------------------------------------------------------------------------------
    f"POST {A}/login": not_yet("failure counting and lockout under parallel wrong passwords; parallel "
                               "right ones: tests/auth/test_concurrent_logins.py"),
    f"POST {A}/login/totp": not_yet("a TOTP code used twice at once (replay window)"),
    f"POST {A}/login/password": not_yet("a forced password change sent twice at once"),
    f"POST {A}/login/totp-enrolment": not_yet("TOTP enrolment started twice at once"),
    f"POST {A}/login/totp-enrolment/confirm": not_yet("TOTP enrolment confirmed twice at once"),
    f"POST {A}/oauth/token": not_yet("partner client tokens: stateless issue, nothing checked before a write"),
    f"POST {A}/logout": not_yet("a session ended twice at once"),
    f"POST {A}/operators/login": not_yet("an operator's TOTP code used twice at once (the operator row is "
                                         "locked FOR UPDATE on PostgreSQL; not raced here yet)"),
    f"DELETE {A}/me/sessions/{{session_id}}": not_yet("a session ended twice at once"),
    f"POST {A}/me/sessions/end-others": not_yet("end-others beside a refresh"),
    f"POST {A}/me/password": not_yet("password history checked before the change"),
    f"POST {A}/me/totp/enrolment": not_yet("TOTP enrolment started twice at once"),
    f"POST {A}/me/totp/enrolment/confirm": not_yet("TOTP enrolment confirmed twice at once"),
    f"POST {A}/users/{{user_id}}/unlock": not_yet("unlock beside failing logins"),
    f"POST {A}/users/{{user_id}}/password-reset": not_yet("two resets at once"),
    f"DELETE {A}/users/{{user_id}}/totp": not_yet("TOTP reset beside an enrolment"),
    f"POST {A}/device-certificates": not_yet("serial allocation of device certificates"),
    f"POST {A}/device-certificates/{{serial}}/revoke": not_yet("a certificate revoked twice at once"),
    f"POST {A}/partner-clients": not_yet("partner client creation (random ids, no check)"),
    f"POST {A}/partner-clients/{{client_id}}/secret": not_yet("secret rotation twice at once"),
    f"PUT {A}/partner-clients/{{client_id}}/jigyosho": not_yet("事業所 restriction replaced twice at once"),
    f"PUT {A}/partner-clients/{{client_id}}/scopes": not_yet("scopes replaced twice at once"),
    f"DELETE {A}/partner-clients/{{client_id}}": not_yet("a client deleted twice at once"),
    f"POST {A}/keys/rotate": not_yet("signing key rotation twice at once"),
    # --- accounts ---------------------------------------------------------------------------------
    f"POST {AC}/tenants": not_yet("tenant code uniqueness under parallel creates (unique index)"),
    f"PUT {AC}/tenants/{{tenant_id}}": VERSIONED,
    f"PUT {AC}/tenants/{{tenant_id}}/settings": VERSIONED,
    f"POST {AC}/users": not_yet("login id uniqueness and the user quota under parallel creates"),
    f"DELETE {AC}/users/{{user_id}}": not_yet("deleting an administrator takes the same tenant-row lock as "
                                              "disabling one (raced in test_accounts_races.py)"),
    f"POST {AC}/users/{{user_id}}/enable": VERSIONED,
    f"POST {AC}/invitations": DISABLED,
    f"POST {AC}/signup": DISABLED,
    f"POST {AC}/saml/{{rest}}": DISABLED,
    f"POST {AC}/jigyosho": not_yet("事業所 code uniqueness under parallel creates"),
    f"PUT {AC}/jigyosho/{{jigyosho_id}}": VERSIONED,
    f"POST {AC}/jigyosho/{{jigyosho_id}}/close": VERSIONED,
    f"POST {AC}/notices": not_yet("operator notices: plain inserts"),
    f"POST {AC}/operations/contract-jobs/run": not_yet("contract-end jobs run twice at once"),
    f"POST {AC}/operations/republish-grants": not_yet("grant republication twice at once (events only)"),
    # --- koyo_hoken -------------------------------------------------------------------------------
    f"POST {K}/insured-persons/{{person_id}}/my-number-intake": IDEMPOTENT,
    f"POST {K}/eligibility": COMPUTES,
    f"POST {K}/rishoku-shomeisho/preview": COMPUTES,
    f"POST {K}/procedures": not_yet("procedure creation for one person twice at once"),
    f"PATCH {K}/procedures/{{procedure_id}}": VERSIONED,
    f"POST {K}/procedures/{{procedure_id}}/efiling": not_yet("handing one procedure to efiling twice at once"),
    f"POST {K}/procedures/{{procedure_id}}/transitions": VERSIONED,
    # --- jimukumiai (the cases not in test_jimukumiai_races.py) ----------------------------------
    f"POST {J}/members": not_yet("labour insurance number uniqueness: unique index, IntegrityError → 409 "
                                 "(services/jimukumiai/service.py entrust_member)"),
    f"PATCH {J}/members/{{member_id}}": VERSIONED,
    f"POST {J}/members/{{member_id}}/leave": not_yet("a member leaving twice at once"),
    f"PUT {J}/association": VERSIONED,
    f"POST {J}/members/{{member_id}}/special-enrolments": not_yet("overlapping 特別加入 spans entered at once"),
    f"POST {J}/members/{{member_id}}/special-enrolments/{{enrolment_id}}/leave":
        not_yet("a 特別加入 span ended twice at once"),
    f"POST {J}/wages/import": not_yet("CSV import beside a PUT of the same year's wages"),
    f"POST {J}/calculator/worker-share": COMPUTES,
    f"POST {J}/calculator/renewal": COMPUTES,
    f"POST {J}/calculator/installments": COMPUTES,
    f"POST {J}/calculator/special-enrolment": COMPUTES,
    f"POST {J}/calculator/increase-estimate": COMPUTES,
    f"POST {J}/members/{{member_id}}/ledger": not_yet("money entries are plain inserts (each request is one "
                                                      "payment); an Idempotency-Key would make a retry safe"),
    # --- efiling ----------------------------------------------------------------------------------
    f"POST {E}/filings": IDEMPOTENT,
    f"POST {E}/filings/{{filing_id}}/amend": not_yet("amend beside a submit or a status poll"),
    f"POST {E}/filings/{{filing_id}}/withdraw": not_yet("withdraw beside a submit or a status poll"),
    f"POST {E}/egov-accounts": not_yet("e-Gov account linking twice at once"),
    f"POST {E}/egov-accounts/callback": not_yet("one OAuth state redeemed twice at once"),
    f"DELETE {E}/egov-accounts/{{account_id}}": VERSIONED,
    f"POST {E}/certificates": not_yet("office certificate upload twice at once"),
    f"PUT {E}/certificates/{{certificate_id}}": VERSIONED,
    f"PATCH {E}/certificates/{{certificate_id}}": VERSIONED,
    f"DELETE {E}/certificates/{{certificate_id}}": VERSIONED,
    f"PUT {E}/egov-accounts/{{account_id}}/certificate": VERSIONED,
    # --- audit_log --------------------------------------------------------------------------------
    f"POST {AL}/verify": COMPUTES,
    f"POST {AL}/checkpoints": not_yet("two checkpoints of one chain at once (the audit chain held under "
                                      "issue 29's outside probe)"),
    # --- files ------------------------------------------------------------------------------------
    f"POST {F}/files": not_yet("quota under parallel uploads (held under issue 29's probe; first-upload "
                               "race: tests/files/test_usage_race.py)"),
    f"PUT {F}/files/{{file_id}}": not_yet("one file id uploaded twice at once"),
    f"POST {F}/files/metadata": not_yet("metadata-only creates (plain inserts)"),
    f"POST {F}/files/{{file_id}}/download-link": not_yet("signed links are stateless; the download itself "
                                                         "races a delete (issue 29 item 9)"),
    f"PUT {F}/internal/official-documents/{{file_id}}": not_yet("one 公文書 stored twice at once"),
    # --- webhooks ---------------------------------------------------------------------------------
    f"POST {W}/endpoints": IDEMPOTENT,
    f"PATCH {W}/endpoints/{{endpoint_id}}": VERSIONED,
    f"DELETE {W}/endpoints/{{endpoint_id}}": not_yet("an endpoint deleted beside a delivery"),
    f"POST {W}/endpoints/{{endpoint_id}}/secret": not_yet("two rotations at once (the endpoint row is locked); "
                                                          "item 13's third rotation: tests/webhooks/test_rotation.py"),
    f"POST {SH}/enrolments/{{shaho_enrolment_id}}/zuiji-check": COMPUTES,
    f"POST {SH}/internal/tenant-export/{{tenant_id}}": not_yet(
        "two exports of one tenant at once (reads the service's rows; writes nothing here)"),
    f"POST {SH}/enrolments/{{shaho_enrolment_id}}/bonuses": not_yet(
        "two bonuses of one person at once (the enrolment's version column serialises them; reruns, then 409)"),
    f"PUT {SH}/enrolments/{{shaho_enrolment_id}}/pay-months/{{month}}": not_yet(
        "two first writes of one month (the unique index refuses the second; answered 409 after a rerun)"),
    f"POST {W}/deliveries/{{delivery_id}}/redeliver": not_yet("one delivery redelivered twice at once"),
    # --- egov_sandbox -----------------------------------------------------------------------------
    "POST /auth/token": SANDBOX,
    "POST /auth/token/introspect": SANDBOX,
    "POST /auth/logout": SANDBOX,
    "POST /shinsei/v2/apply": SANDBOX,
    "POST /shinsei/v2/bulk-apply": SANDBOX,
    "POST /shinsei/v2/apply/check": SANDBOX,
    "POST /shinsei/v2/apply/amend": SANDBOX,
    "POST /shinsei/v2/apply/withdraw": SANDBOX,
    "POST /shinsei/v2/official_document": SANDBOX,
    "POST /shinsei/v2/official_document/verify": SANDBOX,
    "POST /_sandbox/reset": SANDBOX,
    "PUT /_sandbox/script": SANDBOX,
    "POST /_sandbox/faults": SANDBOX,
    "POST /_sandbox/cases/{arrive_id}/advance": SANDBOX,
    "POST /_sandbox/tokens/expire": SANDBOX,
    # --- a whole tenant's export (返却, issue 24.5) ----------------------------------------------
    **{f"POST {base}/internal/tenant-export/{{tenant_id}}": EXPORT_READS
       for base in (A, AC, K, J, E, AL, F, W)},
    f"POST {AC}/tenants/{{tenant_id}}/exports": not_yet("an export signed twice at once (operator-run, "
                                                        "once per contract end)"),
    f"PUT {AC}/tenants/{{tenant_id}}/exports/{{export_id}}/archive": not_yet("one archive uploaded twice at once"),
    # --- koyo_hoken payroll intake and eligibility (issue 25) -----------------------------------
    f"PUT {K}/import-mappings/{{name}}": not_yet("one mapping name saved twice at once (last writer wins)"),
    f"DELETE {K}/import-mappings/{{name}}": not_yet("a mapping deleted while an import reads it"),
    f"POST {K}/wage-records/import": not_yet("two wage imports of one person's period at once"),
    f"POST {K}/eligibility/rejudgements": not_yet("re-judgements of one date at once (a unique row per "
                                                  "person and date holds the result; not raced)"),
}
