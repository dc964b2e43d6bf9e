"""The custody exceptions queue and its four-eyes workflow.

Each exception is proposed a resolution by one staff member (admin or reviewer) and approved by
another; only the approval acts, and the database refuses an approver who proposed
(``ck_custody_exceptions_four_eyes``). A proposal can be turned down by another staff member, which
reopens the exception.

Resolutions, by kind:

- ``unknown_reference`` (a credit no member's reference names): ``book_to_member`` books it on the
  member named in the proposal, as the deposit it was (idempotent by the bank's entry reference);
  ``acknowledge`` records that it was dealt with outside (e.g. the payer's bank recalled it).
- ``returned_payment`` (paid, then returned by the payee's bank; already reversed in the ledger):
  ``reinstruct`` pays it again to the corrected account named in the proposal (a new pain.001, a new
  EndToEndId, two-phase as every payment); ``acknowledge`` leaves the money where the reversal put it.
- every other kind (unmatched or mismatched statement lines, duplicate statements, gaps, messages the
  bank refused): ``acknowledge``, with the note saying what was found.

Every approval is appended to the public log (``custody_exception_resolved``), without names or accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.banking.errors import BankingError, exception_kind, exception_status, resolutions
from huzhu.banking.sync import book_deposit
from huzhu.custody.bank_models import BankEntry, CustodyException, OutgoingPayment
from huzhu.custody.models import CustodyInstruction
from huzhu.custody.service import Custodian, instruct_payment
from huzhu.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from huzhu.ledger.models import DEBIT, Entry, LedgerAccount, Transfer
from huzhu.members.models import Member
from huzhu.money import format_yuan
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record

ALLOWED = {
    "unknown_reference": ("book_to_member", "acknowledge"),
    "returned_payment": ("reinstruct", "acknowledge"),
}
DEFAULT_ALLOWED = ("acknowledge",)
DECIDERS = (Role.ADMIN, Role.REVIEWER)


def allowed_resolutions(kind: str) -> tuple[str, ...]:
    return ALLOWED.get(kind, DEFAULT_ALLOWED)


def exception_or_raise(session: Session, exception_id: int, *, lock: bool = False) -> CustodyException:
    query = select(CustodyException).where(CustodyException.id == exception_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(BankingError.NO_SUCH_EXCEPTION, exception=exception_id)
    return row


def _check_decider(actor: Account) -> None:
    if actor.role not in DECIDERS:
        raise Forbidden(BankingError.DECIDERS_ONLY)


def list_exceptions(session: Session, *, status: str | None = None, limit: int = 200) -> list[CustodyException]:
    query = select(CustodyException).order_by(CustodyException.id.desc()).limit(limit)
    if status == "unresolved":
        query = query.where(CustodyException.status != "resolved")
    elif status:
        query = query.where(CustodyException.status == status)
    return list(session.scalars(query))


def propose(session: Session, *, exception_id: int, actor: Account, resolution: str, target: str = "",
            note: str = "", now: datetime) -> CustodyException:
    _check_decider(actor)
    row = exception_or_raise(session, exception_id, lock=True)
    if row.status != "open":
        raise InvalidTransition(BankingError.NOT_OPEN, exception=row.id, status=exception_status(row.status))
    if resolution not in allowed_resolutions(row.kind):
        raise InvalidInput(BankingError.RESOLUTION_NOT_ALLOWED, kind=exception_kind(row.kind),
                           choices=resolutions(allowed_resolutions(row.kind)))
    target = target.strip()
    if resolution == "book_to_member":
        if not target.isdigit() or session.get(Member, int(target)) is None:
            raise InvalidInput(BankingError.BOOK_TARGET)
    if resolution == "reinstruct" and not (4 <= len(target) <= 34):
        raise InvalidInput(BankingError.REINSTRUCT_TARGET)
    if not note.strip() and resolution == "acknowledge":
        raise InvalidInput(BankingError.NOTE_NEEDED)
    row.status, row.resolution, row.resolution_target = "proposed", resolution, target or None
    row.resolution_note, row.proposed_by_account_id, row.proposed_at = note.strip()[:2000], actor.id, now
    session.flush()
    return row


def turn_down(session: Session, *, exception_id: int, actor: Account, now: datetime) -> CustodyException:
    """Another staff member refuses the proposal: the exception is open again."""
    _check_decider(actor)
    row = exception_or_raise(session, exception_id, lock=True)
    if row.status != "proposed":
        raise InvalidTransition(BankingError.NOTHING_TO_TURN_DOWN, exception=row.id)
    if row.proposed_by_account_id == actor.id:
        raise Forbidden(BankingError.OWN_PROPOSAL)
    row.status, row.resolution, row.resolution_target, row.resolution_note = "open", None, None, None
    row.proposed_by_account_id, row.proposed_at = None, None
    session.flush()
    return row


def approve(session: Session, *, exception_id: int, actor: Account, custodian: Custodian, now: datetime,
            plans: Mapping[str, Plan] | None = None) -> CustodyException:
    """A second staff member approves the proposal, and it is carried out in the same transaction."""
    _check_decider(actor)
    row = exception_or_raise(session, exception_id, lock=True)
    if row.status != "proposed":
        raise InvalidTransition(BankingError.NOTHING_TO_APPROVE, exception=row.id)
    if row.proposed_by_account_id == actor.id:
        raise Forbidden(BankingError.FOUR_EYES)
    if row.resolution == "book_to_member":
        _book_to_member(session, row, now=now, plans=plans)
    elif row.resolution == "reinstruct":
        _reinstruct(session, row, custodian=custodian, now=now)
    row.status, row.approved_by_account_id, row.approved_at = "resolved", actor.id, now
    session.flush()
    append_record(session, kind="custody_exception_resolved", subject=f"{row.kind}:{row.id}", payload={
        "exception_id": row.id, "kind": row.kind, "amount": format_yuan(row.amount_fen) if row.amount_fen else "0.00",
        "resolution": row.resolution, "proposed_at": row.proposed_at.isoformat() if row.proposed_at else None,
        "approved_at": now.isoformat()}, now=now)
    return row


def _book_to_member(session: Session, row: CustodyException, *, now: datetime,
                    plans: Mapping[str, Plan] | None) -> None:
    entry = session.scalar(select(BankEntry).where(BankEntry.bank_reference == row.subject))
    if entry is None or entry.direction != "CRDT":
        raise Conflict(BankingError.NO_NOTIFIED_CREDIT, exception=row.id)
    if entry.transfer_id is not None:
        raise Conflict(BankingError.CREDIT_BOOKED, reference=entry.bank_reference)
    member = session.get(Member, int(row.resolution_target or 0))
    if member is None:
        raise NotFound(BankingError.MEMBER_GONE)
    transfer = book_deposit(session, member=member, bank_reference=entry.bank_reference, amount_fen=entry.amount_fen,
                            now=now, plans=plans)
    entry.kind, entry.transfer_id = "deposit", transfer.id


def _reinstruct(session: Session, row: CustodyException, *, custodian: Custodian, now: datetime) -> None:
    outgoing = session.scalar(select(OutgoingPayment).where(OutgoingPayment.end_to_end_id == row.subject))
    instruction = session.scalar(select(CustodyInstruction).where(CustodyInstruction.end_to_end_id == row.subject))
    if outgoing is None or instruction is None or outgoing.status != "returned":
        raise Conflict(BankingError.NO_RETURNED_PAYMENT, exception=row.id)
    pending = session.get(Transfer, instruction.pending_transfer_id)
    assert pending is not None
    account_id = session.scalar(select(Entry.account_id).where(Entry.transfer_id == pending.id,
                                                               Entry.direction == DEBIT).limit(1))
    account = session.get(LedgerAccount, account_id)
    assert account is not None
    instruct_payment(
        session, custodian, kind=instruction.kind, from_account=account, amount_fen=instruction.amount_fen,
        creditor_name=instruction.creditor_name, creditor_account=row.resolution_target or "",
        remittance_info=instruction.remittance_info, idempotency_key=f"{pending.idempotency_key}:reinstruct:{row.id}",
        now=now, case_id=instruction.case_id, member_id=instruction.member_id)
