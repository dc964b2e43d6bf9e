"""Double-entry, append-only ledger tables.

A *transfer* is one balanced journal entry (TigerBeetle-style two-phase where money leaves the
bank): its *entries* debit and credit ledger accounts, and Σ debits = Σ credits. Transfers and
entries are never updated or deleted. A pending transfer is resolved by a second transfer that
names it (``pending_id``) with status ``posted`` or ``voided``; the unique index on ``pending_id``
makes a pending transfer resolvable once.

``ledger_accounts`` carries running totals (debits/credits, posted/pending) like TigerBeetle's
accounts: a projection of the entries, updated in the same transaction, so a balance is one row
read. ``huzhu ledger check`` recomputes every total from the entries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huzhu.db import Base, BigId, UtcDateTime

# Account kinds and the side on which their balance is normal.
CUSTODY_CASH = "custody_cash"  # asset: money held by the custodian bank (normal debit)
MEMBER_BALANCE = "member_balance"  # liability: a member's prepaid balance (normal credit)
CASE_POOL = "case_pool"  # liability: shares collected for one case, not yet paid out (normal credit)

DEBIT, CREDIT = 1, -1


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # System accounts have a code ("custody:cash"); member and case accounts are found by their owner.
    code: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    # TigerBeetle's flag: a liability account may never be debited past its credits (no negative balance).
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(
            "debits_must_not_exceed_credits = false OR debits_posted + debits_pending <= credits_posted",
            name="no_overdraft",
        ),
        # Only system accounts have codes: a partial index stays tiny and balance updates never touch it.
        Index("uq_ledger_accounts_code", "code", unique=True, sqlite_where=text("code IS NOT NULL"),
              postgresql_where=text("code IS NOT NULL")),
        # Half of each page free lets PostgreSQL update every balance of a run in place (HOT), without
        # touching the primary-key index (fillfactor 70 gave 42% HOT updates on a 1M-member run).
        {"postgresql_with": {"fillfactor": 50}},
    )

    @property
    def credit_balance(self) -> int:
        """Balance of a liability (member, case pool): credits − debits, posted only."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What a liability can still pay: posted credit balance less pending debits."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def debit_balance(self) -> int:
        """Balance of an asset (custody cash): debits − credits, posted only."""
        return self.debits_posted - self.credits_posted


class Transfer(Base):
    __tablename__ = "ledger_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # A hash of what the transfer says, so a reused key with other content is refused.
    content_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))  # deposit, share, payout, refund, import, ...
    status: Mapped[str] = mapped_column(String(8))  # posted, pending, voided (a resolution), posted
    pending_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # Σ debits = Σ credits of its entries
    entry_count: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(String(255), default="")
    # The end-to-end id of the bank movement this transfer mirrors (deposits, payouts, refunds).
    external_ref: Mapped[str | None] = mapped_column(String(35), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("status IN ('posted', 'pending', 'voided')", name="status_known"),
    )


class Entry(Base):
    """One leg of a transfer. ``direction`` is +1 debit, −1 credit; ``amount`` is always > 0."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign keys here on purpose: PostgreSQL checks them row by row, which tripled the cost of
    # writing a million share legs. Only the posting code writes entries, and `huzhu ledger check`
    # verifies that every entry's transfer and account exist (invariant `entries_reference_existing_rows`).
    transfer_id: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("direction IN (1, -1)", name="direction_known"),
        # Each account appears at most once per side of a transfer: a member pays a case once.
        UniqueConstraint("account_id", "transfer_id", "direction"),
        # Entries arrive in transfer order, so on PostgreSQL a tiny BRIN index finds a transfer's legs
        # at a fraction of a B-tree's upkeep; SQLite has only B-trees.
        Index("ix_ledger_entries_transfer", "transfer_id", postgresql_using="brin"),
    )
