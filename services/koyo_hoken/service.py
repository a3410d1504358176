"""Use cases of the koyo_hoken service: each runs in one unit of work (rows + events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from services.koyo_hoken import events, rejudge, repository
from services.koyo_hoken.context import KoyoContext
from services.koyo_hoken.models import InsuredPerson, Procedure, jigyosho_directory, messaging
from services.koyo_hoken.rules import deadlines as dl
from services.koyo_hoken.rules import rishoku
from services.koyo_hoken.rules.forms import Kind, NoFormInForce, forms_for
from services.koyo_hoken.rules.lifecycle import EDITABLE, FINAL, State, can_move
from services.koyo_hoken.rules.numbers import hihokensha_key, mask_my_number
from services.koyo_hoken.rules.procedures import Person, check, form_data
from services.koyo_hoken.schemas import (
    EgovCharWarning,
    InsuredPersonCreate,
    InsuredPersonOut,
    InsuredPersonUpdate,
    ProcedureCreate,
    ProcedureUpdate,
)
from shared.crypto import CryptoError
from shared.errors import ProblemError, not_found
from shared.events import Actor, EventEnvelope
from shared.jigyosho_directory import closed_jigyosho, unknown_jigyosho
from shared.jp_text import egov_rejected_chars
from shared.permissions import Access

STALE = ProblemError(412, "precondition-failed", "データが他の利用者によって更新されています",
                     "最新の内容を取得してから、もう一度操作してください")
IF_MATCH_REQUIRED = ProblemError(428, "precondition-required", "If-Match ヘッダーが必要です",
                                 "取得時の ETag を If-Match に付けて送ってください")
NAME_FIELDS = ("family_name", "given_name", "family_name_kana", "given_name_kana")
# The facts the eligibility decision looks at: a change of one judges the person again.
JUDGED_FIELDS = {"birth_date", "hire_date", "weekly_hours", "contract_end", "renewal_clause", "student"}


def check_version(current: int, if_match: str | None) -> None:
    if if_match is None:
        raise IF_MATCH_REQUIRED
    try:
        wanted = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise STALE from None
    if wanted != current:
        raise STALE


@contextmanager
def stale_is_412() -> Iterator[None]:
    """A write that passed the If-Match check but lost to a concurrent commit (the version column
    refused it): the same 412 as a stale If-Match, as documented, not a generic 409."""
    try:
        yield
    except StaleDataError as exc:
        raise STALE from exc


def invalid(field: str, message: str) -> ProblemError:
    return ProblemError(422, "validation", "入力内容に誤りがあります", message,
                        errors=[{"field": field, "message": message, "code": "invalid"}])


# --- My Number ---------------------------------------------------------------------------------

def _aad_of(tenant_id: str, person_id: str) -> bytes:
    """Binds the sealed number to its row: copied onto another person it does not open."""
    return f"koyo_hoken/insured_person/{tenant_id}/{person_id}".encode()


my_number_aad = _aad_of  # the tenant export opens the numbers it encrypts to the tenant's key


def _aad(p: InsuredPerson) -> bytes:
    return _aad_of(p.tenant_id, p.id)


def seal_my_number(ctx: KoyoContext, p: InsuredPerson, digits: str) -> None:
    p.my_number_sealed = ctx.data_keys.seal(digits.encode(), _aad(p))


def _open_my_number(ctx: KoyoContext, p: InsuredPerson) -> str | None:
    if p.my_number_sealed is None:
        return None
    try:
        return ctx.data_keys.open(p.my_number_sealed, _aad(p)).decode()
    except CryptoError:
        raise ProblemError(500, "internal", "個人番号を復号できません") from None


def read_my_number(session: Session, ctx: KoyoContext, p: InsuredPerson, actor: Actor, purpose: str,
                   procedure_id: str | None = None) -> str | None:
    """An unmasked read: recorded as roumu.koyo_hoken.my_number.viewed (ids only), and re-sealed
    under the newest data key when it was sealed under an older one."""
    digits = _open_my_number(ctx, p)
    if digits is None:
        return None
    assert p.my_number_sealed is not None
    if ctx.data_keys.needs_reseal(p.my_number_sealed):
        seal_my_number(ctx, p, digits)
    messaging.record(session, events.my_number_viewed(p, actor, purpose, procedure_id))
    return digits


def person_out(ctx: KoyoContext, p: InsuredPerson) -> InsuredPersonOut:
    digits = _open_my_number(ctx, p)
    warnings = [EgovCharWarning(field=name, position=r.index + 1, char=r.char, reason=r.reason)
                for name in NAME_FIELDS for r in egov_rejected_chars(getattr(p, name))]
    out = InsuredPersonOut.model_validate(p)
    return out.model_copy(update={"my_number_registered": digits is not None,
                                  "my_number_masked": mask_my_number(digits) if digits else None,
                                  "egov_char_warnings": warnings})


# --- the 事業所 master (shared.jigyosho_directory) ----------------------------------------------

def jigyosho_refusal(session: Session, tenant_id: str, jigyosho_id: str, *, closed_ok: bool = False
                     ) -> ProblemError | None:
    """Why a write may not refer to this 事業所: unknown to this tenant (404, also right after its
    creation until accounts' event arrives), or closed (409) unless `closed_ok`. None = fine."""
    entry = jigyosho_directory.get(session, tenant_id, jigyosho_id)
    if entry is None:
        return unknown_jigyosho(jigyosho_id)
    if not entry.is_open and not closed_ok:
        return closed_jigyosho(entry)
    return None


def require_jigyosho(session: Session, tenant_id: str, jigyosho_id: str, *, closed_ok: bool = False) -> None:
    problem = jigyosho_refusal(session, tenant_id, jigyosho_id, closed_ok=closed_ok)
    if problem is not None:
        raise problem


# --- insured persons ---------------------------------------------------------------------------

PERSON_FIELDS = ("gender", "nationality", "romaji_name", "residence_status", "residence_card_number",
                 "residence_period_end", "outside_status_permission", "dispatch_or_contract_work",
                 "hihokensha_bango", "contract_end", "renewal_clause", "employment_type", "wage_payment",
                 "monthly_wage", "job_type", "student", "employee_number")


def new_person_values(ctx: KoyoContext, tenant_id: str, body: InsuredPersonCreate) -> dict[str, Any]:
    """The column values of a new person, My Number sealed; the number's key and claim are left to
    `claim_for`. A bulk import inserts these with Core (an ORM object per row cost it a third of
    its time); a single registration makes an InsuredPerson of them (`new_person`)."""
    now = ctx.clock.now()
    person_id = str(uuid.uuid4())
    return {
        "id": person_id, "tenant_id": tenant_id, "jigyosho_id": body.jigyosho_id,
        "family_name": body.family_name, "given_name": body.given_name,
        "family_name_kana": body.family_name_kana, "given_name_kana": body.given_name_kana,
        "birth_date": body.birth_date, "hire_date": body.hire_date, "weekly_hours": body.weekly_hours,
        "status": "active", "created_at": now, "updated_at": now, "version": 1, "leave_date": None,
        "hihokensha_key": None, "hihokensha_claim": None,
        **{f: getattr(body, f) for f in PERSON_FIELDS},
        "my_number_sealed": (None if body.my_number is None else
                             ctx.data_keys.seal(body.my_number.encode(), _aad_of(tenant_id, person_id))),
    }


def new_person(ctx: KoyoContext, tenant_id: str, body: InsuredPersonCreate) -> InsuredPerson:
    return InsuredPerson(**new_person_values(ctx, tenant_id, body))


DUPLICATE_NUMBER = ProblemError(409, "conflict", "同じ被保険者番号の方が登録されています",
                                "登録済みの方を検索し、その方の情報を更新してください")


def claim_number(session: Session, p: InsuredPerson, may_see: Callable[[str], bool],
                 holders: Iterable[InsuredPerson] | None = None) -> None:
    """Who holds `p`'s 被保険者番号 (set p.hihokensha_key / hihokensha_claim), before the write.

    One person per tenant holds a number: the unique index on (tenant_id, hihokensha_claim) is the
    rule, this the answer. Another person with the same number whom the caller may see (by their
    事業所, `may_see`) → 409. A holder the caller may not see must not be revealed: `p` keeps the
    number as entered, unclaimed (NULL claim), and the answer is the one an unused number gets.
    Checked before the write; a holder committed concurrently makes the flush fail, and the
    caller runs the unit of work again (api.retry_on_conflict), which then finds it here.
    `holders`: the persons with this number, when the caller read them already (a CSV import
    reads every row's in one query)."""
    if p.hihokensha_bango is None:
        p.hihokensha_key = p.hihokensha_claim = None
        return
    key = hihokensha_key(p.hihokensha_bango)
    if holders is None:
        holders = repository.persons_by_number_key(session, p.tenant_id, key)
    p.hihokensha_key = key
    p.hihokensha_claim = claim_for(p.id, key, holders, may_see)


def claim_for(person_id: str, key: str, holders: Iterable[InsuredPerson], may_see: Callable[[str], bool]
              ) -> str | None:
    """claim_number's rule for a number whose key is known: 409 when another holder is visible,
    else the claim (None when an invisible other holds it)."""
    others = [o for o in holders if o.id != person_id and o.hihokensha_key == key]
    if any(may_see(o.jigyosho_id) for o in others):
        raise DUPLICATE_NUMBER
    return None if any(o.hihokensha_claim == key for o in others) else key


def register_insured_person(session: Session, ctx: KoyoContext, access: Access, body: InsuredPersonCreate,
                            actor: Actor) -> InsuredPerson:
    require_jigyosho(session, access.tenant_id, body.jigyosho_id)  # a hire into a known, open 事業所 only
    person = new_person(ctx, access.tenant_id, body)
    claim_number(session, person, access.allows_jigyosho)
    session.add(person)
    session.flush()
    rejudge.judge_new(session, ctx, person)  # eligibility as data (issue 25)
    messaging.record(session, events.insured_person_registered(person, actor))
    return person


def update_insured_person(session: Session, ctx: KoyoContext, access: Access, p: InsuredPerson,
                          body: InsuredPersonUpdate, if_match: str | None, actor: Actor) -> InsuredPerson:
    check_version(p.version, if_match)
    changes = body.model_dump(exclude_unset=True)
    changed = [k for k, v in changes.items() if getattr(p, k) != v]
    for k in changed:
        setattr(p, k, changes[k])
    if p.hire_date <= p.birth_date:
        raise invalid("body.hire_date", "雇用開始日は生年月日より後の日付にしてください")
    if "hihokensha_bango" in changed:
        with session.no_autoflush:  # the new number is not written before its holder is known
            claim_number(session, p, access.allows_jigyosho)
    if changed:
        p.updated_at = ctx.clock.now()
        session.flush()
        if set(changed) & JUDGED_FIELDS:
            rejudge.judge_new(session, ctx, p)
        messaging.record(session, events.insured_person_updated(p, actor, changed))
    return p


def set_my_number(session: Session, ctx: KoyoContext, p: InsuredPerson, digits: str, if_match: str | None,
                  actor: Actor) -> InsuredPerson:
    check_version(p.version, if_match)
    seal_my_number(ctx, p, digits)
    p.updated_at = ctx.clock.now()
    session.flush()
    messaging.record(session, events.insured_person_updated(p, actor, ["my_number"]))
    return p


# --- procedures --------------------------------------------------------------------------------

def deadline_for(ctx: KoyoContext, kind: Kind, event_date: date) -> dl.Deadline:
    if kind is Kind.SHIKAKU_SHUTOKU:
        return dl.shikaku_shutoku(event_date, ctx.settings.shift_fixed_date_deadlines)
    if kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU):
        return dl.shikaku_soshitsu(dl.soshitsu_date_for(event_date))
    return dl.tenkin(event_date)


def as_person(p: InsuredPerson, my_number: str | None = None) -> Person:
    return Person(
        family_name=p.family_name, given_name=p.given_name, family_name_kana=p.family_name_kana,
        given_name_kana=p.given_name_kana, birth_date=p.birth_date, hire_date=p.hire_date,
        weekly_hours=p.weekly_hours, my_number_registered=p.my_number_sealed is not None, my_number=my_number,
        **{f: getattr(p, f) for f in PERSON_FIELDS if f != "employee_number"},
    )


def refuse_59_without_certificate(p: InsuredPerson, kind: Kind, rishoku_date: date) -> None:
    if kind is Kind.SHIKAKU_SOSHITSU and rishoku.required(p.birth_date, rishoku_date):
        raise ProblemError(
            422, "rishoku-shomeisho-required", "離職証明書が必要です",
            "離職日に59歳以上の方の資格喪失届には離職証明書の添付が必要です（with_rishoku_shomeisho を true に"
            "し、賃金の記録を入力してください）",
            errors=[{"field": "body.with_rishoku_shomeisho", "message": "59歳以上の離職者には離職証明書が必要です",
                     "code": "rishoku_shomeisho_required"}])


def create_procedure(session: Session, ctx: KoyoContext, access: Access, body: ProcedureCreate,
                     actor: Actor) -> Procedure:
    p = repository.insured_person_in_tenant(session, access.tenant_id, body.insured_person_id)
    if p is None or not access.allows_jigyosho(p.jigyosho_id):
        raise not_found()
    kind = Kind(body.kind)
    if kind is Kind.SHIKAKU_SOSHITSU and body.with_rishoku_shomeisho:
        kind = Kind.SHIKAKU_SOSHITSU_RISHOKU
    details: dict[str, Any] = body.details.model_dump(mode="json", exclude_none=True)
    jigyosho_id = p.jigyosho_id
    if kind is Kind.TENKIN:
        if body.to_jigyosho_id is None or body.to_jigyosho_id == p.jigyosho_id:
            raise invalid("body.to_jigyosho_id", "転勤先の事業所（現在と異なる事業所）を指定してください")
        access.check_jigyosho(body.to_jigyosho_id)
        details["from_jigyosho_id"] = p.jigyosho_id
        jigyosho_id = body.to_jigyosho_id
    elif body.to_jigyosho_id is not None:
        raise invalid("body.to_jigyosho_id", "転勤届以外では指定できません")
    # 取得届 and 転勤届 need the (new) 事業所 known and open. A 喪失届 only needs it known: when a
    # 事業所 closes (廃止), a 資格喪失届 is due for everyone insured there.
    require_jigyosho(session, p.tenant_id, jigyosho_id,
                     closed_ok=kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU))
    if kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU):
        if body.event_date < p.hire_date:
            raise invalid("body.event_date", "離職日が雇用開始日より前です")
        refuse_59_without_certificate(p, kind, body.event_date)
    if repository.open_procedure(session, p.tenant_id, p.id, kind.value) is not None:
        raise ProblemError(409, "conflict", "同じ届出が既に作成されています",
                           "既存の届出を編集するか、取り下げてください")
    deadline = deadline_for(ctx, kind, body.event_date)
    now = ctx.clock.now()
    pr = Procedure(id=str(uuid.uuid4()), tenant_id=p.tenant_id, jigyosho_id=jigyosho_id, insured_person_id=p.id,
                   kind=kind.value, state=State.DRAFT.value, event_date=body.event_date,
                   raw_due_date=deadline.raw, due_date=deadline.due, deadline_rule=deadline.rule, details=details,
                   problems=[], created_at=now, updated_at=now, version=1)
    session.add(pr)
    changed = _apply_to_person(p, kind, body.event_date, jigyosho_id)
    session.flush()
    messaging.record(session, events.procedure_created(pr, actor))
    if changed:
        p.updated_at = now
        session.flush()
        messaging.record(session, events.insured_person_updated(p, actor, changed))
    return pr


def _apply_to_person(p: InsuredPerson, kind: Kind, event_date: date, jigyosho_id: str) -> list[str]:
    """A 喪失 records the 離職日 (the person has left); a 転勤 moves the person to the new 事業所."""
    if kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU):
        p.leave_date, p.status = event_date, "left"
        return ["leave_date", "status"]
    if kind is Kind.TENKIN:
        p.jigyosho_id = jigyosho_id
        return ["jigyosho_id"]
    return []


def update_procedure(session: Session, ctx: KoyoContext, pr: Procedure, p: InsuredPerson, body: ProcedureUpdate,
                     if_match: str | None, actor: Actor) -> Procedure:
    check_version(pr.version, if_match)
    if State(pr.state) not in EDITABLE:
        raise ProblemError(409, "conflict", "この状態の届出は編集できません", f"現在の状態: {pr.state}")
    previous = pr.state
    kind = Kind(pr.kind)
    if body.event_date is not None and body.event_date != pr.event_date:
        if kind in (Kind.SHIKAKU_SOSHITSU, Kind.SHIKAKU_SOSHITSU_RISHOKU):
            refuse_59_without_certificate(p, kind, body.event_date)
            p.leave_date = body.event_date
        pr.event_date = body.event_date
        d = deadline_for(ctx, kind, pr.event_date)
        pr.raw_due_date, pr.due_date, pr.deadline_rule = d.raw, d.due, d.rule
    if body.details is not None:
        keep = {k: pr.details[k] for k in ("from_jigyosho_id",) if k in pr.details}
        pr.details = {**body.details.model_dump(mode="json", exclude_none=True), **keep}
    pr.state, pr.problems, pr.updated_at = State.DRAFT.value, [], ctx.clock.now()
    session.flush()
    if previous != pr.state:
        messaging.record(session, events.procedure_transition(pr, actor, previous, "edited"))
    return pr


def check_procedure(session: Session, ctx: KoyoContext, pr: Procedure, p: InsuredPerson, actor: Actor) -> Procedure:
    """Validate every field the form needs: no errors → checked; the problems are kept either way."""
    if pr.state not in (State.DRAFT, State.CHECKED):
        raise ProblemError(409, "conflict", "この状態の届出は確認できません", f"現在の状態: {pr.state}")
    result = check(Kind(pr.kind), as_person(p), pr.event_date, pr.details)
    pr.problems = [x.as_dict() for x in result.problems]
    previous = pr.state
    pr.state = State.CHECKED.value if result.ok else State.DRAFT.value
    pr.updated_at = ctx.clock.now()
    session.flush()
    if previous != pr.state:
        messaging.record(session, events.procedure_transition(pr, actor, previous))
    return pr


def form_data_path(pr: Procedure) -> str:
    return f"/api/v1/koyo-hoken/procedures/{pr.id}/form-data"


def mark_ready(session: Session, ctx: KoyoContext, pr: Procedure, p: InsuredPerson, actor: Actor) -> Procedure:
    """checked → ready: the hand-off to e-filing (roumu.koyo_hoken.procedure.ready)."""
    if pr.state != State.CHECKED:
        raise ProblemError(409, "conflict", "確認済みの届出だけを提出準備にできます", f"現在の状態: {pr.state}")
    result = check(Kind(pr.kind), as_person(p), pr.event_date, pr.details)
    if not result.ok:  # the person changed since the check
        pr.problems, pr.state = [x.as_dict() for x in result.problems], State.DRAFT.value
        session.flush()
        messaging.record(session, events.procedure_transition(pr, actor, State.CHECKED.value, "recheck_failed"))
        return pr
    try:
        forms = forms_for(Kind(pr.kind), ctx.today())
    except NoFormInForce:
        raise ProblemError(409, "conflict", "この日付に有効な様式がありません") from None
    pr.proc_id, pr.state, pr.updated_at = forms.proc_id, State.READY.value, ctx.clock.now()
    session.flush()
    refs = [{"form_id": f.form_id, "version": f.version} for f in forms.forms]
    messaging.record(session, events.procedure_ready(pr, actor, refs, form_data_path(pr)))
    return pr


def transition(session: Session, ctx: KoyoContext, pr: Procedure, target: str, actor: Actor,
               reason: str | None = None, filing_status: str | None = None) -> Procedure:
    if pr.state == target:
        return pr
    if not can_move(pr.state, target):
        raise ProblemError(409, "conflict", "この状態には変更できません", f"{pr.state} → {target}")
    previous = pr.state
    pr.state, pr.updated_at = target, ctx.clock.now()
    if filing_status is not None:
        pr.filing_status, pr.filing_status_at = filing_status[:100], pr.updated_at
    session.flush()
    messaging.record(session, events.procedure_transition(pr, actor, previous, reason))
    return pr


def build_form_data(session: Session, ctx: KoyoContext, pr: Procedure, p: InsuredPerson, actor: Actor,
                    unmasked: bool) -> dict[str, Any]:
    """The form data for e-filing (unmasked: My Number as digits, the read recorded) or for a
    screen (masked)."""
    kind = Kind(pr.kind)
    result = check(kind, as_person(p), pr.event_date, pr.details)
    if not result.ok:
        raise ProblemError(409, "conflict", "届出に未確認の誤りがあります", "確認（check）をやり直してください",
                           errors=[{"field": x.field, "message": x.message, "code": "invalid"}
                                   for x in result.problems if x.severity == "error"])
    digits = read_my_number(session, ctx, p, actor, "form_data", pr.id) if unmasked else None
    if not unmasked and p.my_number_sealed is not None:
        masked = _open_my_number(ctx, p)
        digits = mask_my_number(masked) if masked else None
    try:
        forms = forms_for(kind, ctx.today())
    except NoFormInForce:
        raise ProblemError(409, "conflict", "この日付に有効な様式がありません") from None
    data = form_data(kind, forms, as_person(p, digits), pr.event_date, pr.details, result)
    return {"procedure_id": pr.id, **data, "my_number_included": bool(unmasked and digits)}


# --- e-filing status (consumer) ----------------------------------------------------------------

EFILING_TARGETS = {
    "roumu.efiling.filing.submitted": State.SUBMITTED,
    "roumu.efiling.filing.arrived": State.SUBMITTED,
    "roumu.efiling.filing.correction_requested": State.RETURNED,
    "roumu.efiling.filing.official_document_received": State.COMPLETED,
    "roumu.efiling.filing.withdrawn": State.WITHDRAWN,
}
# status_changed carries e-Gov's free-text status; known words map to our states, the rest are
# kept as the raw string only (EGOV-API.md: never fail on an unknown status).
EGOV_STATUS_WORDS = (("手続終了", State.COMPLETED), ("補正", State.RETURNED), ("取下げ", State.WITHDRAWN),
                     ("審査", State.ACCEPTED), ("到達", State.SUBMITTED))


# status_changed's `data.status` is e-filing's own state (contracts/events/roumu.efiling.filing.
# status_changed.schema.json); `data.egov_status` is e-Gov's text.
EFILING_STATES = {"arrived": State.SUBMITTED, "under_review": State.ACCEPTED, "reviewed": State.ACCEPTED,
                  "correction_requested": State.RETURNED, "completed": State.COMPLETED,
                  "withdrawn": State.WITHDRAWN}


def _target_of(event: EventEnvelope) -> tuple[State | None, str | None]:
    raw = event.data.get("egov_status") or event.data.get("status")
    raw_s = str(raw) if raw is not None else None
    if event.type in EFILING_TARGETS:
        return EFILING_TARGETS[event.type], raw_s
    if event.type == "roumu.efiling.filing.status_changed" and str(event.data.get("status")) in EFILING_STATES:
        # Before, the English state was matched against e-Gov's words and never moved anything:
        # a procedure completed only through the 公文書 event (the fault run saw one stay `submitted`).
        return EFILING_STATES[str(event.data["status"])], raw_s
    if event.type == "roumu.efiling.filing.status_changed" and raw_s:
        for word, state in EGOV_STATUS_WORDS:
            if word in raw_s:
                return state, raw_s
        return None, raw_s
    return None, None


def on_efiling_event(session: Session, event: EventEnvelope, ctx_clock_now: datetime | None = None) -> None:
    """Follow a filing's status: find our procedure by the Idempotency-Key (= procedure id) or the
    filing id, and move it along when the move is allowed; anything else is ignored (an event
    about a filing that is not ours, or a move the lifecycle does not allow, e.g. a late
    duplicate)."""
    if not event.type.startswith(events.EFILING_PREFIX) or event.tenant_id is None:
        return
    target, raw = _target_of(event)
    subj = event.subject
    pid = subj.get("procedure_id") or subj.get("idempotency_key")
    pr = repository.procedure_for_filing(session, event.tenant_id, pid, subj.get("filing_id"))
    if pr is None:
        return
    if subj.get("filing_id") and pr.filing_id is None:
        pr.filing_id = subj["filing_id"]
    if raw is not None and (pr.filing_status_at is None or event.occurred_at >= pr.filing_status_at):
        pr.filing_status, pr.filing_status_at = raw[:100], event.occurred_at
    if (target is not None and pr.state == State.READY and not can_move(pr.state, target)
            and can_move(State.SUBMITTED, target)):
        # A filing's events can arrive out of order: one unacked when this consumer or NATS went
        # away is redelivered after ack_wait, behind later ones. Any status past the send means it
        # was sent, so the procedure passes through `submitted` instead of ignoring the news (and
        # the late `submitted` is then the ignored one).
        _follow(session, pr, State.SUBMITTED, event, ctx_clock_now)
    if target is None or pr.state == target or not can_move(pr.state, target):
        session.flush()
        return
    _follow(session, pr, target, event, ctx_clock_now)


def _follow(session: Session, pr: Procedure, target: State, event: EventEnvelope, at: datetime | None) -> None:
    previous = pr.state
    pr.state = target.value
    pr.updated_at = at or event.occurred_at
    session.flush()
    messaging.record(session, events.procedure_transition(pr, event.actor, previous, event.type))


def open_states() -> Iterable[str]:
    return [s.value for s in State if s not in FINAL]
