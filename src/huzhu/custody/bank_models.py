"""The platform's side of the custodian bank as its own service (tables of migration 0012).

- :class:`MemberReference`: each member's personal reference and the virtual sub-account number the
  bank opened for it (shown on the member's page; payers quote either).
- :class:`BankCursor`: how far the platform has *processed* the bank's numbered messages and statements.
- :class:`BankEntry`: every camt.054 entry the platform has read, once per bank entry reference
  (``AcctSvcrRef``): a duplicate notification finds its row and books nothing.
- :class:`OutgoingPayment`: the outbox of pain.001 messages (queued in the same transaction as the
  pending ledger transfer, sent when the bank answers) and each payment's status from pain.002.
- :class:`StatementImport` and :class:`StatementLine`: each camt.053 fetched, its lines (reconciled
  set-based in SQL) and the result published.
- :class:`CustodyException`: what needs people: unknown references, unmatched lines, duplicate
  statements, gaps, mismatches, returned payments; resolved with four eyes (proposed by one staff
  member, approved by another; the database refuses one approving their own proposal).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime
from huzhu.sealing.types import SealedText

EXCEPTION_KINDS = ("unknown_reference", "unmatched_line", "duplicate_statement", "sequence_gap",
                   "amount_mismatch", "returned_payment", "malformed_message")
EXCEPTION_STATUSES = ("open", "proposed", "resolved")
RESOLUTIONS = ("book_to_member", "return_to_payer", "reinstruct", "acknowledge")
OUTGOING_STATUSES = ("queued", "sent", "accepted", "settled", "rejected", "returned")


class MemberReference(Base):
    __tablename__ = "custody_member_references"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    virtual_account: Mapped[str | None] = mapped_column(String(34), unique=True)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BankCursor(Base):
    __tablename__ = "custody_bank_cursors"

    name: Mapped[str] = mapped_column(String(24), primary_key=True)  # notifications, statements
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class BankEntry(Base):
    __tablename__ = "custody_bank_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_reference: Mapped[str] = mapped_column(String(35), unique=True)
    notification_seq: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))  # deposit, payment, return, unknown
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    reference: Mapped[str] = mapped_column(String(35), default="")
    # The payer (credits) or payee (debits): a bank account, sealed at rest like every other.
    counterparty_account: Mapped[str] = mapped_column(SealedText(), default="")
    value_date: Mapped[date] = mapped_column(Date)  # as the camt.054 states it
    booking_date: Mapped[date] = mapped_column(Date)  # the business day of booked_at (as on the camt.053)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("direction IN ('CRDT', 'DBIT')", name="direction_known"),)


class OutgoingPayment(Base):
    __tablename__ = "custody_outgoing_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    pending_transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    pain001: Mapped[str] = mapped_column(SealedText())  # names the payee and their account
    status: Mapped[str] = mapped_column(String(12), default="queued")
    reason_code: Mapped[str] = mapped_column(String(8), default="")
    attempts: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reinstructs_id: Mapped[int | None] = mapped_column(ForeignKey("custody_outgoing_payments.id"))

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'accepted', 'settled', 'rejected', 'returned')",
                        name="status_known"),
        Index("ix_custody_outgoing_payments_status", "status", "id"),
    )


class StatementImport(Base):
    __tablename__ = "custody_statements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    statement_id: Mapped[str] = mapped_column(String(35))
    business_date: Mapped[date] = mapped_column(Date)
    sha256: Mapped[str] = mapped_column(String(64))
    opening_fen: Mapped[int] = mapped_column(BigInteger)
    closing_fen: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[int] = mapped_column(BigInteger)
    matched_lines: Mapped[int] = mapped_column(BigInteger)
    unmatched_lines: Mapped[int] = mapped_column(BigInteger)
    ledger_custody_fen: Mapped[int] = mapped_column(BigInteger)
    reconciled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StatementLine(Base):
    __tablename__ = "custody_statement_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_seq: Mapped[int] = mapped_column(BigInteger)
    line_no: Mapped[int] = mapped_column(BigInteger)
    bank_reference: Mapped[str] = mapped_column(String(35))
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    direction: Mapped[str] = mapped_column(String(4))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    booking_date: Mapped[date] = mapped_column(Date)
    matched: Mapped[int] = mapped_column(BigInteger, default=0)  # 1 matched, 0 not (yet)

    __table_args__ = (UniqueConstraint("statement_seq", "line_no", name="line_once"),)


class CustodyException(Base):
    __tablename__ = "custody_exceptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(80))  # bank reference, statement id, end-to-end id
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="open")
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolution_target: Mapped[str | None] = mapped_column(SealedText())  # member id or new creditor account (sealed)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    proposed_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    proposed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("kind", "subject", name="raised_once"),
        CheckConstraint("status IN ('open', 'proposed', 'resolved')", name="status_known"),
        CheckConstraint("approved_by_account_id IS NULL OR approved_by_account_id <> proposed_by_account_id",
                        name="four_eyes"),
        CheckConstraint("status <> 'resolved' OR approved_by_account_id IS NOT NULL", name="approved_when_resolved"),
        Index("ix_custody_exceptions_status", "status", "id"),
    )


WIND_DOWN_STATES = ("claims_open", "settling", "refunding", "closed")


class WindDown(Base):
    """A plan (or every plan, scope ``*``) being wound down: no new joins from ``announced_at``, claims
    until ``claims_close_on``, then open cases settled, every balance refunded through the bank, and
    the final statement published."""

    __tablename__ = "custody_wind_downs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), unique=True)
    claims_days: Mapped[int] = mapped_column(BigInteger)
    announced_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claims_close_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="claims_open")
    refunds_instructed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    final_statement_sha256: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("state IN ('claims_open', 'settling', 'refunding', 'closed')", name="state_known"),
    )


class MemberNotice(Base):
    """What the platform told a member (the wind-down's steps), shown on the member's bank page."""

    __tablename__ = "custody_member_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    wind_down_id: Mapped[int] = mapped_column(ForeignKey("custody_wind_downs.id"))
    step: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("member_id", "wind_down_id", "step", name="told_once"),
        Index("ix_custody_member_notices_member", "member_id", "id"),
    )
