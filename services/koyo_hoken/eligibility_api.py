"""Eligibility as data (issue 25): re-judgements for a date, the changes they found, and each
person's stored decision. See services/koyo_hoken/rejudge.py and docs/koyo_hoken.md."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.koyo_hoken import rejudge, repository
from services.koyo_hoken.api import CanRead, CanWrite, Rt, ctx_of, retry_on_conflict
from services.koyo_hoken.models import EligibilityChange, EligibilityDecision
from services.koyo_hoken.rules import eligibility as el
from services.koyo_hoken.rules import rejudgement as rj
from services.koyo_hoken.schemas import REF_ID
from shared.auth_deps import TenantPrincipal, actor_of
from shared.errors import not_found, problem_responses
from shared.topology import api_prefix

router = APIRouter(prefix=api_prefix("koyo_hoken"), tags=["koyo_hoken eligibility"])
PROBLEMS = problem_responses(401, 403, 404, 409, 422)


class RejudgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date = Field(description="判定日（例: 2028-10-01 = 週10時間への改正の施行日）", examples=["2028-10-01"])
    jigyosho_id: str | None = Field(default=None, pattern=REF_ID,
                                    description="この事業所だけを判定（省略時はテナント全体）")


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    insured_person_id: str
    jigyosho_id: str
    as_of: date
    previous_insured: bool
    insured: bool
    previous_rule_version: str
    rule_version: str
    reason_code: str
    reason: str
    procedure_kind: str | None = Field(
        description="必要な届出: shikaku_shutoku（資格取得届）/ shikaku_soshitsu（資格喪失届）")
    raw_due_date: date | None
    due_date: date | None = Field(description="提出期限（行政機関の休日は翌開庁日）")
    deadline_rule: str | None
    created_at: datetime


class JigyoshoChanges(BaseModel):
    jigyosho_id: str
    changes: list[ChangeOut]


class RejudgementOut(BaseModel):
    as_of: date
    rule_version: str
    judged: int = Field(description="判定した人数（判定日に在籍する方）")
    created: int = Field(description="今回新たに記録した変更の数（再実行では 0）")
    jigyosho: list[JigyoshoChanges] = Field(description="事業所ごとの、判定日に資格が変わる方")


class ChangeList(BaseModel):
    items: list[ChangeOut]
    change_dates: list[date] = Field(description="規則の改正日（自動で再判定する日）")


class DecisionOut(BaseModel):
    insured_person_id: str
    insured: bool
    category: str | None
    reason_code: str
    reason: str
    rule_version: str
    judged_on: date
    stored: bool = Field(description="false: 保存された判定がなく、今日の事実で判定した結果（保存はしていません）")


def _grouped(changes: list[EligibilityChange]) -> list[JigyoshoChanges]:
    by: dict[str, list[ChangeOut]] = defaultdict(list)
    for c in changes:
        by[c.jigyosho_id].append(ChangeOut.model_validate(c))
    return [JigyoshoChanges(jigyosho_id=j, changes=sorted(cs, key=lambda c: (c.due_date or date.max, c.id)))
            for j, cs in sorted(by.items())]


@router.post("/eligibility/rejudgements", response_model=RejudgementOut, responses=PROBLEMS)
async def run_rejudgement(body: RejudgementIn, p: TenantPrincipal, access: CanWrite, request: Request,
                          rt: Rt) -> RejudgementOut:
    """Re-judge the eligibility of every person of the tenant (or one 事業所) employed on `as_of`:
    stores each decision and lists, per 事業所, the persons whose status changes with the
    procedure and deadline each change requires (for 2028-10-01: a 資格取得届 due by the 10th of
    November). Idempotent: a re-run for the same date answers the same changes and records none
    twice (`created` 0). The same runs by itself on each rule change date."""
    if body.jigyosho_id is not None and not access.allows_jigyosho(body.jigyosho_id):
        raise not_found()
    actor = actor_of(p, request)
    ctx = ctx_of(rt)

    def run() -> RejudgementOut:
        with rt.transaction() as session:
            r = rejudge.rejudge(session, ctx, access.tenant_id, body.as_of, granted=access.jigyosho_ids,
                                jigyosho_id=body.jigyosho_id, actor=actor)
            return RejudgementOut(as_of=r.as_of, rule_version=r.rule_version, judged=r.judged, created=r.created,
                                  jigyosho=_grouped(r.changes))

    return await anyio.to_thread.run_sync(lambda: retry_on_conflict(run))


@router.get("/eligibility/changes", response_model=ChangeList, responses=PROBLEMS)
def list_changes(access: CanRead, rt: Rt, as_of: Annotated[date | None, Query()] = None,
                 jigyosho_id: Annotated[str | None, Query(pattern=REF_ID)] = None) -> ChangeList:
    """Recorded status changes (from re-judgements), for the dashboard: by date, 事業所 and deadline."""
    if jigyosho_id is not None:
        access.check_jigyosho(jigyosho_id)
    with rt.db.sessions() as session:
        rows = rejudge.changes_in(session, access.tenant_id, access.jigyosho_ids, as_of=as_of,
                                  jigyosho_id=jigyosho_id)
        return ChangeList(items=[ChangeOut.model_validate(c) for c in rows], change_dates=list(rj.change_dates()))


@router.get("/insured-persons/{person_id}/eligibility", response_model=DecisionOut, responses=PROBLEMS)
def person_eligibility(person_id: str, access: CanRead, rt: Rt) -> DecisionOut:
    """The person's current eligibility decision as stored (judged on registration, on a change of
    the facts and by re-judgements); without one, today's decision (`stored` false)."""
    ctx = ctx_of(rt)
    with rt.db.sessions() as session:
        p = repository.insured_person_in_tenant(session, access.tenant_id, person_id)
        if p is None or not access.allows_jigyosho(p.jigyosho_id):
            raise not_found()
        d = session.get(EligibilityDecision, (p.tenant_id, p.id))
        if d is not None:
            return DecisionOut(insured_person_id=p.id, insured=d.insured, category=d.category,
                               reason_code=d.reason_code, reason=d.reason, rule_version=d.rule_version,
                               judged_on=d.judged_on, stored=True)
        on = max(p.hire_date, ctx.today())
        now = el.decide(rejudge.facts_of(p, on))
        return DecisionOut(insured_person_id=p.id, insured=now.insured, category=now.category,
                           reason_code=now.reason_code, reason=now.reason, rule_version=now.rule_version,
                           judged_on=on, stored=False)
