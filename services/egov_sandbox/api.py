"""Routes of the e-Gov sandbox, at e-Gov's own paths (EGOV-API.md §2), not under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from services.egov_sandbox import repository, service
from services.egov_sandbox.egov import API_PREFIX, DOC_TYPE, REALM, EgovError, egov_datetime
from services.egov_sandbox.schemas import (
    ARRIVE_ID,
    ApplyLinks,
    ApplyRequest,
    ApplyResponse,
    ApplyResults,
    CaseResponse,
    CaseResults,
    Metadata,
    SelfLink,
)
from shared.db import Database
from shared.service_app import runtime


def database(request: Request) -> Database:
    return runtime(request).db


def bearer_present(request: Request) -> None:
    """Every e-Gov API call carries `Authorization: Bearer`. The sandbox's token endpoints come
    later (issue 8); until then any bearer token is accepted, a missing one is refused as e-Gov does."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise EgovError(401, "アクセストークンが指定されていません",
                        headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'})


router = APIRouter(prefix=API_PREFIX, tags=["e-Gov sandbox"], dependencies=[Depends(bearer_present)])
Db = Annotated[Database, Depends(database)]


@router.post("/apply", response_model=ApplyResponse, response_model_by_alias=True)
def apply(body: ApplyRequest, db: Db) -> ApplyResponse:
    """申請データ送信: receive an application package and issue its 到達番号."""
    with db.transaction() as session:
        case = service.receive_application(session, body)
        arrive_id, arrive_date = case.arrival_number, egov_datetime(case.received_at)
    return ApplyResponse(
        metadata=Metadata(title="申請データ送信", type=DOC_TYPE, instance=f"{API_PREFIX}/apply"),
        results=ApplyResults(arrive_id=arrive_id, arrive_date=arrive_date, apply_type="新規申請"),
        links=ApplyLinks(self=f"{API_PREFIX}/apply", status=f"{API_PREFIX}/apply/{arrive_id}"),
    )


@router.get("/apply/{arrive_id}", response_model=CaseResponse, response_model_by_alias=True)
def get_case(arrive_id: Annotated[str, Path(pattern=ARRIVE_ID)], db: Db) -> CaseResponse:
    """申請案件取得: a case's status and what came of it."""
    with db.sessions() as session:
        case = repository.case_by_arrival_number(session, arrive_id)
        if case is None:
            raise EgovError(404, "")
        results = CaseResults(
            arrive_id=case.arrival_number, arrive_date=egov_datetime(case.received_at), status=case.status,
            withdraw_flag=True, notice_count=0, doc_count=0, notice_list=[], official_list=[],
        )
    instance = f"{API_PREFIX}/apply/{arrive_id}"
    return CaseResponse(metadata=Metadata(title="申請案件取得", type=DOC_TYPE, instance=instance),
                        results=results, links=SelfLink(self=instance))
