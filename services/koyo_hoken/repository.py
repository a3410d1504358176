"""Queries of the koyo_hoken service. Every query is scoped by tenant_id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from services.koyo_hoken.models import EligibilityChange, EligibilityDecision, InsuredPerson, Procedure
from shared import paging


def insured_person_in_tenant(session: Session, tenant_id: str, person_id: str) -> InsuredPerson | None:
    return session.execute(
        select(InsuredPerson).where(InsuredPerson.tenant_id == tenant_id, InsuredPerson.id == person_id)
    ).scalar_one_or_none()


# The persons list's orders: the shared created/updated ones, and the console's (issue 21) by
# furigana (五十音順) and by 被保険者番号 — each served by an index of (tenant_id, column...).
PersonSort = Literal[paging.Sort, "kana", "-kana", "hihokensha_bango", "-hihokensha_bango"]


@dataclass(frozen=True)
class PersonSearch:
    """What `q` of the persons list searches for (service.person_search builds it)."""

    name: str | None
    kana: str | None
    digits: str | None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts_with(column: Any, prefix: str, dialect: str) -> Any:
    """`column` starts with `prefix`, as an index range. SQLite's LIKE is case-insensitive and takes
    no index, so there it is the range [prefix, prefix with its last character incremented) — exact
    under SQLite's binary collation; PostgreSQL's `LIKE 'x%'` takes the text_pattern_ops index."""
    like = column.like(_escape_like(prefix) + "%", escape="\\")
    if dialect != "sqlite":
        return like
    following = ord(prefix[-1]) + 1
    following = 0xE000 if 0xD800 <= following <= 0xDFFF else following  # no surrogates in UTF-8
    if following > 0x10FFFF:
        return and_(column >= prefix, like)
    return and_(column >= prefix, column < prefix[:-1] + chr(following))


def person_search(terms: PersonSearch, dialect: str) -> list[Any]:
    """Prefix matches, each an index range (migration 0009): the name or the furigana as joined
    without a space (so the family name, or the whole name), or the 被保険者番号 by its digits."""
    ors: list[Any] = []
    if terms.name:
        ors.append(_starts_with(InsuredPerson.search_name, terms.name, dialect))
    if terms.kana:
        ors.append(_starts_with(InsuredPerson.search_kana, terms.kana, dialect))
    if terms.digits:
        ors.append(_starts_with(InsuredPerson.hihokensha_key, terms.digits[:10], dialect))
    return [or_(*ors)] if ors else []


def _person_order(sort: PersonSort) -> list[Any]:
    cols: list[Any]
    if sort.lstrip("-") == "kana":
        cols = [InsuredPerson.family_name_kana, InsuredPerson.given_name_kana, InsuredPerson.id]
    elif sort.lstrip("-") == "hihokensha_bango":
        # Persons without a number last either way (NULLs sort differently in PostgreSQL and SQLite).
        cols = [InsuredPerson.hihokensha_key.is_(None), InsuredPerson.hihokensha_key, InsuredPerson.id]
        if sort.startswith("-"):
            return [cols[0], cols[1].desc(), cols[2].desc()]
        return cols
    else:
        return paging.order_by(sort, InsuredPerson.created_at, InsuredPerson.updated_at,  # type: ignore[arg-type]
                               InsuredPerson.id)
    return [c.desc() for c in cols] if sort.startswith("-") else cols


def insured_persons_in_tenant(
    session: Session, tenant_id: str, jigyosho_id: str | None, granted: Collection[str] | None, limit: int,
    offset: int, *, sort: PersonSort = "created_at", updated_since: datetime | None = None,
    search: PersonSearch | None = None,
) -> tuple[Sequence[InsuredPerson], int]:
    """One page, and the total the filter matches (for the client's pager). `granted`: the
    事業所 the caller may see (None = all); `search`: see person_search."""
    where = [InsuredPerson.tenant_id == tenant_id,
             *paging.since(InsuredPerson.created_at, InsuredPerson.updated_at, updated_since),
             *(person_search(search, session.get_bind().dialect.name) if search is not None else [])]
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    total = session.execute(select(func.count()).select_from(InsuredPerson).where(*where)).scalar_one()
    # id breaks created_at ties, so pages never overlap or skip.
    rows = session.execute(
        select(InsuredPerson).where(*where).order_by(*_person_order(sort)).limit(limit).offset(offset)
    ).scalars().all()
    return rows, total


def persons_by_number_key(session: Session, tenant_id: str, key: str) -> list[InsuredPerson]:
    """Every person of the tenant with this 被保険者番号 (rules.numbers.hihokensha_key)."""
    return list(session.execute(
        select(InsuredPerson).where(InsuredPerson.tenant_id == tenant_id, InsuredPerson.hihokensha_key == key)
    ).scalars())


def procedure_in_tenant(session: Session, tenant_id: str, procedure_id: str) -> Procedure | None:
    return session.execute(
        select(Procedure).where(Procedure.tenant_id == tenant_id, Procedure.id == procedure_id)
    ).scalar_one_or_none()


def open_procedure(session: Session, tenant_id: str, person_id: str, kind: str) -> Procedure | None:
    """A procedure of this kind for this person that is not withdrawn (one at a time)."""
    kinds = [kind]
    if kind.startswith("shikaku_soshitsu"):
        kinds = ["shikaku_soshitsu", "shikaku_soshitsu_rishoku"]
    if kind == "tenkin":
        return None  # a person may be transferred more than once
    return session.execute(
        select(Procedure).where(Procedure.tenant_id == tenant_id, Procedure.insured_person_id == person_id,
                                Procedure.kind.in_(kinds), Procedure.state != "withdrawn").limit(1)
    ).scalar_one_or_none()


def procedure_for_filing(session: Session, tenant_id: str, procedure_id: str | None,
                         filing_id: str | None) -> Procedure | None:
    if procedure_id:
        found = procedure_in_tenant(session, tenant_id, procedure_id)
        if found is not None:
            return found
    if filing_id:
        return session.execute(
            select(Procedure).where(Procedure.tenant_id == tenant_id, Procedure.filing_id == filing_id).limit(1)
        ).scalar_one_or_none()
    return None


def procedures_in_tenant(
    session: Session, tenant_id: str, granted: Collection[str] | None, *, jigyosho_id: str | None = None,
    person_id: str | None = None, kind: str | None = None, state: str | None = None, limit: int = 50,
    offset: int = 0, sort: paging.Sort = "created_at", updated_since: datetime | None = None,
) -> tuple[Sequence[Procedure], int]:
    where = [Procedure.tenant_id == tenant_id, *paging.since(Procedure.created_at, Procedure.updated_at, updated_since)]
    if granted is not None:
        where.append(Procedure.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(Procedure.jigyosho_id == jigyosho_id)
    if person_id is not None:
        where.append(Procedure.insured_person_id == person_id)
    if kind is not None:
        where.append(Procedure.kind == kind)
    if state is not None:
        where.append(Procedure.state == state)
    total = session.execute(select(func.count()).select_from(Procedure).where(*where)).scalar_one()
    rows = session.execute(
        select(Procedure).where(*where)
        .order_by(*paging.order_by(sort, Procedure.created_at, Procedure.updated_at, Procedure.id))
        .limit(limit).offset(offset)
    ).scalars().all()
    return rows, total


def pending_procedures(session: Session, tenant_id: str, granted: Collection[str] | None,
                       jigyosho_id: str | None, states: Collection[str]) -> Sequence[Procedure]:
    """Procedures not yet filed (their deadline still matters), for the deadline view."""
    where = [Procedure.tenant_id == tenant_id, Procedure.state.in_(sorted(states))]
    if granted is not None:
        where.append(Procedure.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(Procedure.jigyosho_id == jigyosho_id)
    return session.execute(select(Procedure).where(*where)).scalars().all()


def persons_missing_shutoku(session: Session, tenant_id: str, granted: Collection[str] | None,
                            jigyosho_id: str | None) -> Sequence[InsuredPerson]:
    """Active persons without a 被保険者番号 and without a (non-withdrawn) 資格取得届: their
    取得届 deadline runs although nobody has started it. Persons whose stored eligibility decision
    says not insured (issue 25) owe no 取得届 and are left out."""
    has_shutoku = (select(Procedure.id).where(Procedure.tenant_id == tenant_id,
                                              Procedure.insured_person_id == InsuredPerson.id,
                                              Procedure.kind == "shikaku_shutoku", Procedure.state != "withdrawn")
                   .exists())
    not_insured = (select(EligibilityDecision.insured_person_id).where(
        EligibilityDecision.tenant_id == tenant_id, EligibilityDecision.insured_person_id == InsuredPerson.id,
        EligibilityDecision.insured.is_(False)).exists())
    where = [InsuredPerson.tenant_id == tenant_id, InsuredPerson.status == "active",
             InsuredPerson.hihokensha_bango.is_(None), ~has_shutoku, ~not_insured]
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    return session.execute(select(InsuredPerson).where(*where)).scalars().all()


def became_insured(session: Session, tenant_id: str, person_ids: Collection[str]) -> dict[str, EligibilityChange]:
    """Per person, the latest re-judgement change that made them insured (its date is the 取得日)."""
    out: dict[str, EligibilityChange] = {}
    ids = sorted(person_ids)
    for i in range(0, len(ids), 500):
        for c in session.execute(select(EligibilityChange).where(
                EligibilityChange.tenant_id == tenant_id, EligibilityChange.insured.is_(True),
                EligibilityChange.insured_person_id.in_(ids[i:i + 500])).order_by(EligibilityChange.as_of)).scalars():
            out[c.insured_person_id] = c
    return out


def all_persons(session: Session, tenant_id: str, granted: Collection[str] | None,
                jigyosho_id: str | None) -> Sequence[InsuredPerson]:
    where = [InsuredPerson.tenant_id == tenant_id]
    if granted is not None:
        where.append(InsuredPerson.jigyosho_id.in_(sorted(granted)))
    if jigyosho_id is not None:
        where.append(InsuredPerson.jigyosho_id == jigyosho_id)
    return session.execute(select(InsuredPerson).where(*where)
                           .order_by(InsuredPerson.created_at, InsuredPerson.id)).scalars().all()


def persons_by_number_keys(session: Session, tenant_id: str, keys: Collection[str]) -> list[InsuredPerson]:
    """Every person of the tenant holding one of these 被保険者番号 (by hihokensha_key)."""
    out: list[InsuredPerson] = []
    items = sorted(keys)
    for i in range(0, len(items), 500):
        out += session.execute(select(InsuredPerson).where(
            InsuredPerson.tenant_id == tenant_id, InsuredPerson.hihokensha_key.in_(items[i:i + 500]))).scalars()
    return out
