"""The bank's own tables, on its own metadata (never created in the platform's database).

The bank creates them with ``metadata.create_all`` (see :func:`huzhu_bank.service.open_bank`): it is
a sandbox bank whose schema has one version; a real bank's schema is not ours to migrate. Should the
sandbox bank's tables ever change shape, it gets its own Alembic folder and version table then.

Sequence numbers (outbox, statements, bank references, virtual accounts) come from ``bank_counters``
rows incremented with ``UPDATE … RETURNING``: the row stays locked until the transaction commits, so
numbers are gapless and become visible in order. A reader pulling "after N" therefore never skips a
number that commits later.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from huzhu.db import NAMING, BigId, UtcDateTime


class BankBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Counter(BankBase):
    """A named gapless sequence: outbox, statement, booking, virtual_account."""

    __tablename__ = "bank_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PoolAccount(BankBase):
    """The custody account holding every member's money; its balance moves in SQL only."""

    __tablename__ = "bank_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(34), unique=True)
    name: Mapped[str] = mapped_column(String(140))
    currency: Mapped[str] = mapped_column(String(3))
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    open_business_date: Mapped[date] = mapped_column(Date)  # the business day bookings go into
    last_closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VirtualAccount(BankBase):
    """A member's personal sub-account number on the pool account, opened on the platform's request."""

    __tablename__ = "bank_virtual_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("bank_accounts.id"))
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    number: Mapped[str] = mapped_column(String(34), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client_fingerprint: Mapped[str] = mapped_column(String(64))


class PaymentMessage(BankBase):
    """A pain.001 as received, once per MsgId."""

    __tablename__ = "bank_payment_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(35), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)  # CreDtTm of the message
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client_fingerprint: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)


class Payment(BankBase):
    """One payment instruction (a CdtTrfTxInf), once per EndToEndId: ACCP → ACSC or RJCT."""

    __tablename__ = "bank_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("bank_payment_messages.id"))
    payment_info_id: Mapped[str] = mapped_column(String(35))
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    creditor_name: Mapped[str] = mapped_column(String(140))
    creditor_account: Mapped[str] = mapped_column(String(34))
    remittance_info: Mapped[str] = mapped_column(Text)
    requested_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(4), index=True)
    reason_code: Mapped[str] = mapped_column(String(4), default="")
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bank_bookings.id"))
    return_booking_id: Mapped[int | None] = mapped_column(ForeignKey("bank_bookings.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Booking(BankBase):
    """Money booked on the pool account: a credit (incoming, return) or a debit (payment)."""

    __tablename__ = "bank_bookings"
    __table_args__ = (Index("ix_bank_bookings_statement_seq", "statement_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("bank_accounts.id"))
    bank_reference: Mapped[str] = mapped_column(String(35), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # incoming, payment, return
    direction: Mapped[str] = mapped_column(String(4))  # CRDT, DBIT
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    creditor_reference: Mapped[str] = mapped_column(String(35), default="")
    virtual_account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_virtual_accounts.id"))
    counterparty_name: Mapped[str] = mapped_column(String(140), default="")
    counterparty_account: Mapped[str] = mapped_column(String(34), default="")
    remittance_info: Mapped[str] = mapped_column(Text, default="")
    return_reason: Mapped[str] = mapped_column(String(4), default="")
    value_date: Mapped[date] = mapped_column(Date)
    business_date: Mapped[date] = mapped_column(Date)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    statement_seq: Mapped[int | None] = mapped_column(BigInteger)


class RejectRule(BankBase):
    """Sandbox: payments to this creditor account are rejected with this reason code."""

    __tablename__ = "bank_reject_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    creditor_account: Mapped[str] = mapped_column(String(34), unique=True)
    reason_code: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxMessage(BankBase):
    """A message for the platform (camt.054, pain.002), numbered gaplessly; the platform pulls after N."""

    __tablename__ = "bank_outbox"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_type: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    xml: Mapped[str] = mapped_column(Text)


class StatementRecord(BankBase):
    """A daily camt.053, numbered gaplessly, with the SHA-256 of its exact bytes."""

    __tablename__ = "bank_statements"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    statement_id: Mapped[str] = mapped_column(String(35), unique=True)
    business_date: Mapped[date] = mapped_column(Date, unique=True)
    from_at: Mapped[datetime] = mapped_column(UtcDateTime)
    to_at: Mapped[datetime] = mapped_column(UtcDateTime)
    opening_fen: Mapped[int] = mapped_column(BigInteger)
    closing_fen: Mapped[int] = mapped_column(BigInteger)
    entry_count: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AttestationRecord(BankBase):
    """The signed end-of-day note: balance and statement digest under the bank's Ed25519 key."""

    __tablename__ = "bank_attestations"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    statement_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReceivedInstruction(BankBase):
    """Every instruction the bank acted on, with the client certificate that sent it."""

    __tablename__ = "bank_received_instructions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    client_fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(200))
