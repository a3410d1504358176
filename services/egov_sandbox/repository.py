"""Queries of the e-Gov sandbox."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.egov_sandbox.models import SandboxCase


def case_by_arrival_number(session: Session, arrival_number: str) -> SandboxCase | None:
    return session.execute(
        select(SandboxCase).where(SandboxCase.arrival_number == arrival_number)
    ).scalar_one_or_none()
