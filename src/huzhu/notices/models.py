"""Cases (互助事件) in public notice and after, and members' objections (异议)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of


class CaseStatus(StrEnum):
    """in_notice → (notice ended, no open objection) → shared → paying → paid; withdrawn when an
    objection is upheld."""

    IN_NOTICE = "in_notice"
    SHARED = "shared"
    PAYING = "paying"
    PAID = "paid"
    WITHDRAWN = "withdrawn"


class ObjectionStatus(StrEnum):
    """An objection is open until a second reviewer upholds or dismisses it."""

    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class NoticeState(StrEnum):
    """Where a case in notice stands, exactly one of these at a time (computed, never stored)."""

    RUNNING = "running"  # the notice period is still running
    HELD = "held"  # the notice is over, but an objection is still open: it waits for a second reviewer
    DUE = "due"  # the notice is over with no open objection: the next run shares it


class Case(Base):
    """What the public sees of an approved claim: anonymised, with its money trail."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(24), unique=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    plan_code: Mapped[str] = mapped_column(String(40), index=True)
    benefit_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[CaseStatus] = mapped_column(EnumString(CaseStatus, 12), default=CaseStatus.IN_NOTICE)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # the approved benefit
    collected_fen: Mapped[int | None] = mapped_column(BigInteger)
    shortfall_fen: Mapped[int | None] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # Anonymised public facts (彭*, F, 25, 广西).
    masked_name: Mapped[str] = mapped_column(String(40))
    gender: Mapped[str] = mapped_column(String(1))
    age: Mapped[int] = mapped_column(Integer)
    province_code: Mapped[str] = mapped_column(String(2))
    incident_summary: Mapped[str] = mapped_column(Text, default="")
    investigation_summary: Mapped[str] = mapped_column(Text, default="")
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    approved_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    notice_starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notice_ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(one_of("status", CaseStatus), name="status_known"),
        Index("ix_cases_status_notice", "status", "notice_ends_at"),
    )


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ObjectionStatus] = mapped_column(EnumString(ObjectionStatus, 10), default=ObjectionStatus.OPEN)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("case_id", "member_id"),
        CheckConstraint(one_of("status", ObjectionStatus), name="status_known"),
    )
