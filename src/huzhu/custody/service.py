"""Money in and out of custody: the platform instructs the custodian and mirrors what it books.

Deposits are posted when the custodian has booked the money in. Payouts and refunds are
two-phase: a pending transfer reserves the money when the instruction (pain.001) is sent, and
is posted when the custodian confirms it booked the payment, or voided if the bank rejects it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from huzhu.clock import business_date
from huzhu.custody.errors import BankRequired, CustodyError
from huzhu.custody.iso20022 import (
    PaymentInstruction,
    StatementEntry,
    build_camt053,
    build_pain001,
    parse_camt053,
)
from huzhu.custody.models import BankTransaction, CustodyInstruction, Reconciliation
from huzhu.db import sum_fen
from huzhu.failpoints import failpoint
from huzhu.ledger.models import CREDIT, DEBIT, LedgerAccount, Transfer
from huzhu.ledger.service import (
    Leg,
    custody_cash_account_id,
    custody_cash_balance,
    find_transfer,
    post_transfer,
    resolve_pending,
    transfer_state,
)
from huzhu.money import format_yuan
from huzhu.transparency.service import append_record

PLATFORM_NAME = "huzhu mutual-aid custody account"
CUSTODY_ACCOUNT_NO = "HUZHU-CUSTODY-0001"


def end_to_end_id(prefix: str, idempotency_key: str) -> str:
    """A stable ≤35-character ISO 20022 EndToEndId derived from the idempotency key."""
    return prefix + hashlib.sha256(idempotency_key.encode()).hexdigest()[: 35 - len(prefix)].upper()


@dataclass(frozen=True)
class PaymentResult:
    end_to_end_id: str
    booked: bool
    reason: str = ""


class Custodian(Protocol):
    """What the platform needs from a custodian bank."""

    def collect(self, session: Session, *, end_to_end_id: str, amount_fen: int, info: str, now: datetime) -> None: ...

    def execute(self, session: Session, *, pain001: bytes, payments: Sequence[PaymentInstruction], now: datetime) -> list[PaymentResult]: ...

    def payment_status(self, session: Session, end_to_end_id: str) -> PaymentResult | None: ...

    def statement(self, session: Session, *, statement_id: str, start: datetime, end: datetime, now: datetime) -> bytes: ...


class SimulatedCustodian:
    """A custodian bank that books instantly in its own tables. Payments to accounts listed in
    ``reject_accounts`` are rejected, so tests can exercise voids."""

    def __init__(self, reject_accounts: frozenset[str] = frozenset()) -> None:
        self.reject_accounts = reject_accounts

    def collect(self, session: Session, *, end_to_end_id: str, amount_fen: int, info: str, now: datetime) -> None:
        if session.scalar(select(BankTransaction.id).where(BankTransaction.end_to_end_id == end_to_end_id)):
            return
        session.add(
            BankTransaction(
                end_to_end_id=end_to_end_id, direction="CRDT", amount_fen=amount_fen, booked_at=now,
                remittance_info=info[:140], rejected=False,
            )
        )
        session.flush()

    def execute(self, session: Session, *, pain001: bytes, payments: Sequence[PaymentInstruction], now: datetime) -> list[PaymentResult]:
        results = []
        for payment in payments:
            existing = session.scalar(select(BankTransaction).where(BankTransaction.end_to_end_id == payment.end_to_end_id))
            if existing is None:
                rejected = payment.creditor_account in self.reject_accounts
                existing = BankTransaction(
                    end_to_end_id=payment.end_to_end_id, direction="DBIT", amount_fen=payment.amount_fen,
                    booked_at=now, remittance_info=payment.remittance_info[:140], rejected=rejected,
                )
                session.add(existing)
                session.flush()
            results.append(PaymentResult(payment.end_to_end_id, not existing.rejected,
                                         "creditor account rejected by the bank" if existing.rejected else ""))
        return results

    def payment_status(self, session: Session, end_to_end_id: str) -> PaymentResult | None:
        row = session.scalar(select(BankTransaction).where(BankTransaction.end_to_end_id == end_to_end_id))
        if row is None:
            return None
        return PaymentResult(end_to_end_id, not row.rejected, "rejected" if row.rejected else "")

    def statement(self, session: Session, *, statement_id: str, start: datetime, end: datetime, now: datetime) -> bytes:
        booked = BankTransaction.rejected.is_(False)
        signed = case((BankTransaction.direction == "CRDT", BankTransaction.amount_fen), else_=-BankTransaction.amount_fen)
        opening = session.scalar(select(sum_fen(signed)).where(booked, BankTransaction.booked_at < start)) or 0
        rows = session.scalars(
            select(BankTransaction).where(booked, BankTransaction.booked_at >= start, BankTransaction.booked_at < end)
            .order_by(BankTransaction.id)
        ).all()
        entries = [
            StatementEntry(end_to_end_id=r.end_to_end_id, amount_fen=r.amount_fen,
                           direction="CRDT" if r.direction == "CRDT" else "DBIT",
                           booked_at=r.booked_at, remittance_info=r.remittance_info or "-")
            for r in rows
        ]
        return build_camt053(
            statement_id=statement_id, created_at=now, account_id=CUSTODY_ACCOUNT_NO,
            opening_balance_fen=opening, entries=entries, from_to=(start, end),
        )


class BankRequiredCustodian:
    """Production without a custodian bank (``HUZHU_CUSTODY_BANK`` empty): the simulation above is for
    the sandbox and tests only, so every money operation that needs the bank refuses, saying what to
    set. Reading (pages, proofs, reports) works as ever."""

    bank_required = True

    def _refuse(self) -> BankRequired:
        return BankRequired(CustodyError.BANK_REQUIRED)

    def collect(self, session: Session, *, end_to_end_id: str, amount_fen: int, info: str, now: datetime) -> None:
        raise self._refuse()

    def execute(self, session: Session, *, pain001: bytes, payments: Sequence[PaymentInstruction],
                now: datetime) -> list[PaymentResult]:
        raise self._refuse()

    def payment_status(self, session: Session, end_to_end_id: str) -> PaymentResult | None:
        raise self._refuse()

    def statement(self, session: Session, *, statement_id: str, start: datetime, end: datetime, now: datetime) -> bytes:
        raise self._refuse()


def refuse_without_bank(custodian: Custodian) -> None:
    """Refuse before anything is done when production has no custodian bank (see :class:`BankRequiredCustodian`)."""
    if getattr(custodian, "bank_required", False):
        raise BankRequired(CustodyError.BANK_REQUIRED)


def deposit(
    session: Session, custodian: Custodian, *, account: LedgerAccount, amount_fen: int, idempotency_key: str,
    now: datetime, member_id: int | None = None, memo: str = "deposit", key_is_new: bool = False,
) -> Transfer:
    """Money paid into custody for a member: the bank books it, then the ledger mirrors it.
    ``key_is_new``: the caller already found no transfer with this key in this transaction."""
    existing = None if key_is_new else find_transfer(session, idempotency_key)
    ref = end_to_end_id("DEP", idempotency_key)
    if existing is None:
        custodian.collect(session, end_to_end_id=ref, amount_fen=amount_fen, info=memo, now=now)
    cash_id = custody_cash_account_id(session, now=now, key=idempotency_key)
    return post_transfer(
        session, idempotency_key=idempotency_key, kind="deposit",
        legs=[Leg(cash_id, DEBIT, amount_fen), Leg(account.id, CREDIT, amount_fen)],
        now=now, member_id=member_id, memo=memo, external_ref=ref, key_is_new=existing is None,
    )


def instruct_payment(
    session: Session, custodian: Custodian, *, kind: str, from_account: LedgerAccount, amount_fen: int,
    creditor_name: str, creditor_account: str, remittance_info: str, idempotency_key: str, now: datetime,
    case_id: int | None = None, member_id: int | None = None,
) -> CustodyInstruction:
    """Reserve the money (pending transfer), send the pain.001 to the custodian, record the instruction."""
    cash_id = custody_cash_account_id(session, now=now, key=idempotency_key)
    ref = end_to_end_id("PAY" if kind == "payout" else "REF", idempotency_key)
    # Replays the pending transfer of a reused key with the same content; a different amount,
    # account or kind under the same key raises IdempotencyConflict.
    pending = post_transfer(
        session, idempotency_key=idempotency_key, kind=kind,
        legs=[Leg(from_account.id, DEBIT, amount_fen), Leg(cash_id, CREDIT, amount_fen)],
        now=now, pending=True, case_id=case_id, member_id=member_id, memo=remittance_info, external_ref=ref,
    )
    instruction = session.scalar(select(CustodyInstruction).where(CustodyInstruction.pending_transfer_id == pending.id))
    if instruction is not None:
        return instruction
    payment = PaymentInstruction(
        end_to_end_id=ref, amount_fen=amount_fen, creditor_name=creditor_name, creditor_account=creditor_account,
        remittance_info=remittance_info[:140], requested_date=business_date(now),
    )
    xml = build_pain001(
        message_id=ref, created_at=now, debtor_name=PLATFORM_NAME, debtor_iban_or_account=CUSTODY_ACCOUNT_NO,
        payments=[payment],
    )
    instruction = CustodyInstruction(
        end_to_end_id=ref, kind=kind, pending_transfer_id=pending.id, amount_fen=amount_fen,
        creditor_name=creditor_name, creditor_account=creditor_account, remittance_info=remittance_info[:140],
        case_id=case_id, member_id=member_id, message_xml=xml.decode(), sent_at=now,
    )
    session.add(instruction)
    session.flush()
    failpoint(f"{kind}.instruction_recorded")
    custodian.execute(session, pain001=xml, payments=[payment], now=now)
    return instruction


def settle_instruction(session: Session, custodian: Custodian, instruction: CustodyInstruction, *, now: datetime) -> str:
    """Post or void the instruction's pending transfer from the custodian's answer; returns the state."""
    pending = session.get(Transfer, instruction.pending_transfer_id)
    assert pending is not None
    state = transfer_state(session, pending)
    if state != "pending":
        return state
    status = custodian.payment_status(session, instruction.end_to_end_id)
    if status is None:
        return "pending"
    resolve_pending(session, pending=pending, post=status.booked, now=now, memo=status.reason)
    return "posted" if status.booked else "voided"


def reconcile(session: Session, custodian: Custodian, *, start: datetime, end: datetime, now: datetime) -> Reconciliation:
    """Import the custodian's camt.053 statement and compare it with the ledger, movement by movement."""
    statement_id = "STMT" + end.strftime("%Y%m%d%H%M%S")
    existing = session.scalar(select(Reconciliation).where(Reconciliation.statement_id == statement_id))
    if existing is not None:
        return existing
    xml = custodian.statement(session, statement_id=statement_id, start=start, end=end, now=now)
    digest = hashlib.sha256(xml).hexdigest()
    statement = parse_camt053(xml)
    failpoint("reconcile.statement_read")
    ledger_refs = {
        ref: (kind, amount)
        for ref, kind, amount in session.execute(
            select(Transfer.external_ref, Transfer.kind, Transfer.amount).where(Transfer.external_ref.is_not(None))
        )
    }
    unmatched = []
    for entry in statement.entries:
        match = ledger_refs.get(entry.end_to_end_id)
        if match is None or match[1] != entry.amount_fen:
            unmatched.append(entry.end_to_end_id)
    ledger_fen = custody_cash_balance(session)
    matched = not unmatched and statement.closing_balance_fen == ledger_fen
    detail = "" if matched else (
        f"closing {statement.closing_balance_fen} vs ledger {ledger_fen}; unmatched: {', '.join(unmatched[:20])}"
    )
    record = Reconciliation(
        statement_id=statement_id, performed_at=now, bank_closing_fen=statement.closing_balance_fen,
        ledger_custody_fen=ledger_fen, statement_entries=len(statement.entries), unmatched_entries=len(unmatched),
        matched=matched, detail=detail,
    )
    session.add(record)
    # Every reconciliation is a leaf of the public log, as on the bank-link path (huzhu.banking.sync).
    append_record(session, kind="custody_reconciliation", subject=statement_id, payload={
        "statement_sha256": digest, "opening_balance": _signed(statement.opening_balance_fen),
        "closing_balance": _signed(statement.closing_balance_fen), "ledger_custody": _signed(ledger_fen),
        "lines": len(statement.entries), "matched": len(statement.entries) - len(unmatched),
        "unmatched": len(unmatched)}, now=now)
    session.flush()
    return record


def _signed(fen: int) -> str:
    return format_yuan(fen) if fen >= 0 else "-" + format_yuan(-fen)
