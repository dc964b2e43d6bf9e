"""The insured people an account manages (members) and their plan enrollments."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session

from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of
from huzhu.members.sealing import id_number_vault
from huzhu.sealing.types import SealedText
from huzhu_verify.pseudonyms import new_member_secret


class Relationship(StrEnum):
    """How an insured person is related to the account that manages them."""

    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"


class EnrollmentStatus(StrEnum):
    """An enrollment's state (also each coverage-history event's)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


class CoverageState(StrEnum):
    """What a member sees of an enrollment on a day (computed, never stored): an active enrollment
    is waiting or in force; otherwise it shows its status."""

    WAITING = "waiting"
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"
    LEFT = "left"


class Member(Base):
    """An insured person, identified by a validated resident ID number; has one prepaid balance."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    relationship: Mapped[Relationship] = mapped_column(EnumString(Relationship, 8), default=Relationship.SELF)
    name: Mapped[str] = mapped_column(SealedText())  # sealed at rest (huzhu.sealing)
    # The resident ID number is never stored in clear (identity/sealing.py): a keyed digest for
    # uniqueness, the number sealed with AES-GCM, and the masked form for display.
    id_number_digest: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_sealed: Mapped[str] = mapped_column(String(80))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))
    region_code: Mapped[str] = mapped_column(String(6))
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Keys the member's pseudonyms and salts in the published sum trees (huzhu.provable); shown only
    # to the member. Rows written in bulk get theirs before the next tree (provable.secrets).
    verify_secret: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=new_member_secret)

    @property
    def id_number(self) -> str:
        """The number in clear, unsealed with the key of the session that loaded this member."""
        return id_number_vault(object_session(self)).unseal(self.id_number_sealed)

    __table_args__ = (
        CheckConstraint(one_of("relationship", Relationship), name="relationship_known"),
        CheckConstraint("gender IN ('F', 'M')", name="gender_known"),
    )


class Enrollment(Base):
    """A member in a plan. ``coverage_anchor_on`` is the day waiting periods count from (the
    joining day, or the resumption day when a long suspension restarts the waiting period)."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    # The member's balance account, copied (it never changes) so a run reads enrollments → balances
    # without joining a million members.
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    plan_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[EnrollmentStatus] = mapped_column(EnumString(EnrollmentStatus, 10), default=EnrollmentStatus.ACTIVE)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    joined_on: Mapped[date] = mapped_column(Date)
    coverage_anchor_on: Mapped[date] = mapped_column(Date)
    # First day on which this enrollment takes part in apportionment (plan's waiting_members_share).
    shares_from: Mapped[date] = mapped_column(Date)
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    health_declaration: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint(one_of("status", EnrollmentStatus), name="status_known"),
        # One live enrollment per member per plan; a member who left may join again.
        Index(
            "uq_enrollments_live",
            "member_id",
            "plan_code",
            unique=True,
            sqlite_where=text(f"status <> '{EnrollmentStatus.LEFT.value}'"),
            postgresql_where=text(f"status <> '{EnrollmentStatus.LEFT.value}'"),
        ),
        # No index on status: a run reads a plan's enrollments in one scan anyway, and suspending
        # many at once should not have to move index entries.
        Index("ix_enrollments_member", "member_id"),
        {"postgresql_with": {"fillfactor": 80}},
    )


class EnrollmentEvent(Base):
    """Append-only coverage history: when an enrollment became active, suspended, or left.
    Review reads it to know whether a member was covered on the incident date."""

    __tablename__ = "enrollment_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key: PostgreSQL's per-row check cost half a second when a run suspends 100,000
    # enrollments; only the enrollment service writes this history, always for an existing enrollment.
    enrollment_id: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[EnrollmentStatus] = mapped_column(EnumString(EnrollmentStatus, 10))
    reason: Mapped[str] = mapped_column(String(200))
    coverage_anchor_on: Mapped[date] = mapped_column(Date)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    balance_fen: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_enrollment_events_enrollment", "enrollment_id", "occurred_at"),)
