""":class:`BankCustodian`: the platform's :class:`~huzhu.custody.service.Custodian` when the custodian
is a bank reached only through messages.

- Deposits are never collected by the platform: money arrives when a member's bank pays the pool
  account quoting the member's reference; :func:`huzhu.banking.sync.pull_notifications` books it
  from the bank's camt.054 alone. :meth:`collect` therefore refuses.
- A payment's pain.001 is queued in the outbox (:class:`OutgoingPayment`) in the same transaction as
  its pending ledger transfer; :func:`huzhu.banking.sync.send_outbox` hands it to the bank later, so
  a bank that is down loses nothing and a resend is harmless (same MsgId and EndToEndId).
- A payment's status is what the bank's pain.002 and camt.054 said, stored by the sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.banking.errors import BankingError
from huzhu.custody.bank_models import OutgoingPayment
from huzhu.custody.iso20022 import PaymentInstruction, build_pain001
from huzhu.custody.models import CustodyInstruction
from huzhu.custody.service import CUSTODY_ACCOUNT_NO, PLATFORM_NAME, PaymentResult
from huzhu.errors import Conflict


class DepositByBankTransfer(Conflict):
    type_slug = "deposit-by-bank-transfer"
    title = "Deposits arrive by bank transfer"


class BankCustodian:
    """The custodian behind bank messages (see the module docstring)."""

    deposits_by_bank_transfer = True
    statements_from_bank = True

    def __init__(self, account_number: str = CUSTODY_ACCOUNT_NO) -> None:
        self.account_number = account_number

    def collect(self, session: Session, *, end_to_end_id: str, amount_fen: int, info: str, now: datetime) -> None:
        raise DepositByBankTransfer(BankingError.DEPOSIT_BY_TRANSFER)

    def execute(self, session: Session, *, pain001: bytes, payments: Sequence[PaymentInstruction],
                now: datetime) -> list[PaymentResult]:
        results = []
        for payment in payments:
            queue_payment(session, payment, now=now, account_number=self.account_number)
            results.append(PaymentResult(payment.end_to_end_id, False, "queued"))
        return results

    def payment_status(self, session: Session, end_to_end_id: str) -> PaymentResult | None:
        outgoing = session.scalar(select(OutgoingPayment).where(OutgoingPayment.end_to_end_id == end_to_end_id))
        if outgoing is None or outgoing.status in ("queued", "sent", "accepted"):
            return None
        if outgoing.status == "rejected":
            return PaymentResult(end_to_end_id, False, f"rejected by the bank ({outgoing.reason_code})")
        return PaymentResult(end_to_end_id, True)

    def statement(self, session: Session, *, statement_id: str, start: datetime, end: datetime, now: datetime) -> bytes:
        raise Conflict(BankingError.STATEMENTS_FROM_BANK)


def queue_payment(session: Session, payment: PaymentInstruction, *, now: datetime,
                  account_number: str = CUSTODY_ACCOUNT_NO, reinstructs_id: int | None = None) -> OutgoingPayment:
    """Put one payment's pain.001 in the outbox (once per EndToEndId)."""
    existing = session.scalar(select(OutgoingPayment).where(OutgoingPayment.end_to_end_id == payment.end_to_end_id))
    if existing is not None:
        return existing
    instruction = session.scalar(select(CustodyInstruction)
                                 .where(CustodyInstruction.end_to_end_id == payment.end_to_end_id))
    if instruction is None:
        raise Conflict(BankingError.NO_PENDING_TRANSFER, payment=payment.end_to_end_id)
    xml = build_pain001(message_id=payment.end_to_end_id, created_at=now, debtor_name=PLATFORM_NAME,
                        debtor_iban_or_account=account_number, payments=[payment])
    outgoing = OutgoingPayment(end_to_end_id=payment.end_to_end_id, pending_transfer_id=instruction.pending_transfer_id,
                               pain001=xml.decode(), status="queued", reason_code="", attempts=0, last_error="",
                               queued_at=now, updated_at=now, reinstructs_id=reinstructs_id)
    session.add(outgoing)
    session.flush()
    return outgoing
