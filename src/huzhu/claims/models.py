"""Claims (互助申请): incident, evidence, third-party investigation, rule-checked review."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, EnumString, UtcDateTime, one_of
from huzhu.sealing.types import SealedText


class ClaimStatus(StrEnum):
    """submitted → investigating → reviewing → approved (a public case) | rejected; an upheld
    objection sends an approved claim back to reviewing."""

    SUBMITTED = "submitted"
    INVESTIGATING = "investigating"
    REVIEWING = "reviewing"
    APPROVED = "approved"
    REJECTED = "rejected"


class Decision(StrEnum):
    """A reviewer's decision on a claim."""

    APPROVE = "approve"
    REJECT = "reject"


class PayeeChangeStatus(StrEnum):
    """A change of a claim's beneficiary: proposed by one staff member, decided by another."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class EvidenceKind(StrEnum):
    """What a claim's document is."""

    MEDICAL = "medical"
    POLICE = "police"
    DEATH_CERTIFICATE = "death_certificate"
    INVOICE = "invoice"
    DISABILITY_ASSESSMENT = "disability_assessment"
    OTHER = "other"


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_no: Mapped[str] = mapped_column(String(24), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    plan_code: Mapped[str] = mapped_column(String(40))
    benefit_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[ClaimStatus] = mapped_column(EnumString(ClaimStatus, 16), default=ClaimStatus.SUBMITTED)
    incident_date: Mapped[date] = mapped_column(Date)
    incident_place: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(SealedText(), default="")  # sealed at rest, as are the payee's
    # Facts the rules need, as claimed; the investigation report may correct them.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    beneficiary_name: Mapped[str] = mapped_column(SealedText())
    beneficiary_account: Mapped[str] = mapped_column(SealedText())
    filed_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    investigator_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reviewer_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(one_of("status", ClaimStatus), name="status_known"),
        Index("ix_claims_status", "status"),
    )


class ClaimEvent(Base):
    """The claim's timeline, append-only: every state change with who and why."""

    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_status: Mapped[ClaimStatus | None] = mapped_column(EnumString(ClaimStatus, 16))
    to_status: Mapped[ClaimStatus] = mapped_column(EnumString(ClaimStatus, 16))
    actor_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(default=True)


class Evidence(Base):
    __tablename__ = "claim_evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    kind: Mapped[EvidenceKind] = mapped_column(EnumString(EvidenceKind, 24))
    filename: Mapped[str] = mapped_column(SealedText())  # a file name often names the patient
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(400))
    uploaded_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InvestigationReport(Base):
    """A third-party investigation company's findings on a claim."""

    __tablename__ = "investigation_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    investigator_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    company: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)  # public, anonymised by the investigator
    confirmed_incident_date: Mapped[date] = mapped_column(Date)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewDecision(Base):
    """A reviewer's decision with every rule check's result and the computed amount."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    reviewer_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    decision: Mapped[Decision] = mapped_column(EnumString(Decision, 8))
    reason: Mapped[str] = mapped_column(Text)
    checks: Mapped[list[Any]] = mapped_column(JSON)
    computed_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    plan_digest: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PayeeChange(Base):
    """A change of who is paid, under four eyes: one staff member proposes it with a reason (a
    corrected account, or the heirs named by a deceased member's estate procedure), a second one
    approves or rejects it. Only an approved change touches the claim; every step is kept here."""

    __tablename__ = "payee_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    status: Mapped[PayeeChangeStatus] = mapped_column(EnumString(PayeeChangeStatus, 16))
    beneficiary_name: Mapped[str] = mapped_column(SealedText())
    beneficiary_account: Mapped[str] = mapped_column(SealedText())
    reason: Mapped[str] = mapped_column(Text)
    proposed_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The payee the approved change replaced (kept: who was to be paid before).
    previous_name: Mapped[str | None] = mapped_column(SealedText())
    previous_account: Mapped[str | None] = mapped_column(SealedText())

    __table_args__ = (
        CheckConstraint(one_of("status", PayeeChangeStatus), name="status_known"),
        CheckConstraint("status = 'proposed' OR (decided_by_account_id IS NOT NULL AND decided_at IS NOT NULL)",
                        name="decided_when_closed"),
        CheckConstraint("decided_by_account_id IS NULL OR decided_by_account_id <> proposed_by_account_id",
                        name="four_eyes"),
    )
