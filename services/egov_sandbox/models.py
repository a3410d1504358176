"""Tables of the e-Gov sandbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.outbox import Messaging


class Base(DeclarativeBase):
    metadata = new_metadata()


# Every service database has the same outbox/inbox tables, so ops and the migration check treat
# them alike; the sandbox is "outside" and never writes to them, so its relay never publishes.
messaging = Messaging(Base.metadata)


class SandboxCase(Base):
    """One application e-Gov received (申請案件), as the sandbox tracks it."""

    __tablename__ = "sandbox_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # 到達番号 (arrive_id): 16–18 half-width digits; the sandbox issues 16.
    arrival_number: Mapped[str] = mapped_column(String(18), unique=True)
    # 手続ID: 16 alphanumerics.
    proc_id: Mapped[str] = mapped_column(String(16))
    # e-Gov's status is free text (到達, 審査中, 手続終了, …), kept verbatim.
    status: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
