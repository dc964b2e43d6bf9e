"""Instructions to the custodian bank, and the simulated custodian's own books.

The simulated bank keeps a separate record (``bank_*`` tables) written only by the custodian
side, so reconciling the platform's ledger against the bank's statement compares two books,
not one book with itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime
from huzhu.sealing.types import SealedText


class CustodyInstruction(Base):
    """A payment the platform asked the bank to make (payout to a beneficiary, refund to a member)."""

    __tablename__ = "custody_instructions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # payout, refund
    pending_transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The payee, and the pain.001 that names them, sealed at rest (huzhu.sealing).
    creditor_name: Mapped[str] = mapped_column(SealedText())
    creditor_account: Mapped[str] = mapped_column(SealedText())
    remittance_info: Mapped[str] = mapped_column(String(140))
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    message_xml: Mapped[str] = mapped_column(SealedText())  # the pain.001 sent
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BankTransaction(Base):
    """The simulated custodian's own booking of money in or out of the custody account."""

    __tablename__ = "bank_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    direction: Mapped[str] = mapped_column(String(4))  # CRDT (money in), DBIT (money out)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    remittance_info: Mapped[str] = mapped_column(String(140))
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)


class Reconciliation(Base):
    """The published result of comparing the ledger with a custodian statement."""

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(35), unique=True)
    performed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    bank_closing_fen: Mapped[int] = mapped_column(BigInteger)
    ledger_custody_fen: Mapped[int] = mapped_column(BigInteger)
    statement_entries: Mapped[int] = mapped_column(BigInteger)
    unmatched_entries: Mapped[int] = mapped_column(BigInteger)
    matched: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")
