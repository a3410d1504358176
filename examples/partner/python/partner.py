"""A partner program against the generated Partner API client (openapi-python-client).

`make test-contracts` generates the package `roumu_partner_client` from
contracts/public/partner-api.v1.json and checks this file with `mypy --strict`: a contract change
that breaks a partner breaks this."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from roumu_partner_client import AuthenticatedClient
from roumu_partner_client.api.auth import auth_post_oauth_token
from roumu_partner_client.api.efiling import efiling_download_document, efiling_get_filing, efiling_list_filings
from roumu_partner_client.api.koyo_hoken import (
    koyo_hoken_create_procedure,
    koyo_hoken_list_insured_persons,
    koyo_hoken_register_insured_person,
)
from roumu_partner_client.models import (
    CorrectionRequestedWebhook,
    EmploymentType,
    FilingOut,
    FilingSort,
    FilingStatus,
    Gender,
    GrantType,
    InsuredPersonCreate,
    InsuredPersonOut,
    OAuthToken,
    OfficialDocumentReceivedWebhook,
    PersonRegisteredWebhook,
    PersonSort,
    PersonUpdatedWebhook,
    PostOauthTokenForm,
    Problem,
    ProcedureCompletedWebhook,
    ProcedureCreate,
    ProcedureKind,
    ProcedureOut,
    ProcedureState,
)
from roumu_partner_client.types import File

Webhook = (PersonRegisteredWebhook | PersonUpdatedWebhook | ProcedureCompletedWebhook
           | OfficialDocumentReceivedWebhook | CorrectionRequestedWebhook)
PARSERS: dict[str, Callable[[dict[str, Any]], Webhook]] = {
    "person.registered": PersonRegisteredWebhook.from_dict,
    "person.updated": PersonUpdatedWebhook.from_dict,
    "procedure.completed": ProcedureCompletedWebhook.from_dict,
    "official_document.received": OfficialDocumentReceivedWebhook.from_dict,
    "correction.requested": CorrectionRequestedWebhook.from_dict,
}


class PartnerError(Exception):
    def __init__(self, problem: Problem | None) -> None:
        super().__init__(problem.title if problem else "no answer")
        self.problem = problem


def token(base_url: str, client_id: str, secret: str, scope: str) -> str:
    """OAuth2 client credentials (HTTP Basic); the token lives 10 minutes."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    client = AuthenticatedClient(base_url=base_url, token=basic, prefix="Basic")
    answer = auth_post_oauth_token.sync(client=client, body=PostOauthTokenForm(
        grant_type=GrantType.CLIENT_CREDENTIALS, scope=scope))
    if not isinstance(answer, OAuthToken):
        raise PartnerError(answer)
    return answer.access_token


def sync_persons(client: AuthenticatedClient, since: datetime.datetime) -> tuple[list[InsuredPersonOut],
                                                                                 datetime.datetime]:
    """Every person changed since `since` (inclusive), page after page; and the newest time seen."""
    seen: list[InsuredPersonOut] = []
    offset, newest = 0, since
    while True:
        page = koyo_hoken_list_insured_persons.sync(client=client, sort=PersonSort.UPDATED_AT,
                                                    updated_since=since, limit=100, offset=offset)
        if isinstance(page, Problem) or page is None:
            raise PartnerError(page)
        for person in page.items:
            seen.append(person)
            updated = person.updated_at if isinstance(person.updated_at, datetime.datetime) else None
            newest = updated or person.created_at
        if not isinstance(page.next_, str):
            return seen, newest
        offset = page.offset + page.limit


def sync_filings(client: AuthenticatedClient, since: datetime.datetime) -> tuple[list[FilingOut],
                                                                          datetime.datetime]:
    """Every filing whose status or e-Gov fields changed since `since` (inclusive); the newest time seen."""
    seen: list[FilingOut] = []
    offset, newest = 0, since
    while True:
        page = efiling_list_filings.sync(client=client, sort=FilingSort.UPDATED_AT, updated_since=since,
                                         limit=100, offset=offset)
        if isinstance(page, Problem) or page is None:
            raise PartnerError(page)
        for filing in page.items:
            seen.append(filing)
            newest = filing.updated_at
        if not isinstance(page.next_, str):
            return seen, newest
        offset = page.offset + page.limit


def hire(client: AuthenticatedClient, jigyosho_id: str, key: str) -> InsuredPersonOut:
    """A hire, sent again safely with the same Idempotency-Key (the first answer comes back)."""
    answer = koyo_hoken_register_insured_person.sync_detailed(
        client=client, idempotency_key=key, body=InsuredPersonCreate(
        jigyosho_id=jigyosho_id, family_name="山田", given_name="太郎", family_name_kana="ヤマダ",
        given_name_kana="タロウ", birth_date=datetime.date(1990, 4, 1), hire_date=datetime.date(2026, 4, 1),
        weekly_hours="40", gender=Gender.MALE, employment_type=EmploymentType.REGULAR))
    if not isinstance(answer.parsed, InsuredPersonOut):
        raise PartnerError(answer.parsed)
    replayed = answer.headers.get("Idempotent-Replayed") == "true"
    print("already registered" if replayed else "registered", answer.parsed.id, answer.parsed.status.value)
    return answer.parsed


def start_shutoku(client: AuthenticatedClient, person: InsuredPersonOut, key: str) -> ProcedureOut:
    """The 資格取得届 of a hire, created once whatever the retries (same Idempotency-Key)."""
    answer = koyo_hoken_create_procedure.sync(client=client, idempotency_key=key, body=ProcedureCreate(
        insured_person_id=person.id, kind=ProcedureKind.SHIKAKU_SHUTOKU, event_date=person.hire_date))
    if not isinstance(answer, ProcedureOut):
        raise PartnerError(answer)
    state: ProcedureState = answer.state
    print("procedure", answer.id, state.value, answer.due_date.isoformat())
    return answer


def official_document(client: AuthenticatedClient, filing_id: str, document_id: str) -> bytes:
    """A filing and its 公文書 ZIP."""
    filing = efiling_get_filing.sync(filing_id, client=client)
    if isinstance(filing, Problem) or filing is None:
        raise PartnerError(filing)
    status: FilingStatus = filing.status
    print(status.value, filing.correction_deadline)
    zipped = efiling_download_document.sync(filing_id, document_id, client=client)
    if not isinstance(zipped, File):
        raise PartnerError(zipped)
    return zipped.payload.read()


def verify_webhook(secret: str, headers: dict[str, str], raw_body: bytes, now: int) -> Webhook:
    """Verify a delivery (HMAC-SHA256 over `<timestamp>.<raw body>`, 5 minutes) and parse it by type."""
    timestamp = int(headers["roumu-webhook-timestamp"])
    if abs(now - timestamp) > 300:
        raise ValueError("stale")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    given = [p.strip().removeprefix("v1=") for p in headers["roumu-webhook-signature"].split(",")]
    if not any(hmac.compare_digest(g, expected) for g in given):
        raise ValueError("bad signature")
    body: dict[str, Any] = json.loads(raw_body)
    return PARSERS[body["type"]](body)


def handle(event: Webhook) -> str:
    """Every webhook type, with its typed data."""
    if isinstance(event, PersonRegisteredWebhook):
        return f"hired {event.subject.insured_person_id} on {event.data.hire_date.isoformat()}"
    if isinstance(event, PersonUpdatedWebhook):
        return f"changed {','.join(event.data.changed_fields)} of {event.links.insured_person}"
    if isinstance(event, ProcedureCompletedWebhook):
        return f"procedure {event.subject.procedure_id} {event.data.kind.value} {event.data.state.value}"
    if isinstance(event, OfficialDocumentReceivedWebhook):
        return f"document {event.data.document_id} at {event.links.document}"
    return f"correction of {event.subject.filing_id} by {event.data.correction_deadline}"
