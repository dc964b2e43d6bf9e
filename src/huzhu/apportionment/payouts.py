"""Paying a shared case's collected money to the beneficiary through the custodian."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huzhu.claims.models import Claim
from huzhu.custody.models import CustodyInstruction
from huzhu.custody.service import Custodian, instruct_payment, settle_instruction
from huzhu.failpoints import failpoint
from huzhu.ledger.models import LedgerAccount
from huzhu.members.models import Member
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record


def _latest_instruction(session: Session, case: Case) -> CustodyInstruction | None:
    return session.scalar(
        select(CustodyInstruction).where(CustodyInstruction.case_id == case.id, CustodyInstruction.kind == "payout")
        .order_by(CustodyInstruction.id.desc()).limit(1)
    )


def pay_out_shared_cases(
    session: Session, custodian: Custodian, *, plans: Mapping[str, Plan], now: datetime
) -> list[Case]:
    """Instruct payouts for shared cases and settle them; returns the cases that became paid."""
    paid: list[Case] = []
    for case in session.scalars(select(Case).where(Case.status.in_((CaseStatus.SHARED, CaseStatus.PAYING))).order_by(Case.id)).all():
        claim = session.get(Claim, case.claim_id)
        assert claim is not None
        if case.status == CaseStatus.SHARED:
            if not case.collected_fen:
                _mark_paid(session, case, now=now, ref=None)
                paid.append(case)
                continue
            last = _latest_instruction(session, case)
            if last is not None and last.creditor_account == claim.beneficiary_account:
                continue  # rejected before; wait for a corrected beneficiary account
            attempt = session.scalar(
                select(func.count()).select_from(CustodyInstruction).where(CustodyInstruction.case_id == case.id)
            ) or 0
            pool = session.get(LedgerAccount, case.ledger_account_id)
            assert pool is not None
            instruct_payment(
                session, custodian, kind="payout", from_account=pool, amount_fen=case.collected_fen,
                creditor_name=claim.beneficiary_name, creditor_account=claim.beneficiary_account,
                remittance_info=f"huzhu mutual aid {case.case_no}", idempotency_key=f"payout:{case.case_no}:{attempt + 1}",
                now=now, case_id=case.id,
            )
            case.status = CaseStatus.PAYING
            case.updated_at = now
            session.flush()
            failpoint("payout.instructed")
        instruction = _latest_instruction(session, case)
        assert instruction is not None
        state = settle_instruction(session, custodian, instruction, now=now)
        failpoint("payout.settled")
        if state == "posted":
            _mark_paid(session, case, now=now, ref=instruction)
            paid.append(case)
            _refund_estate(session, custodian, plans=plans, case=case, claim=claim, now=now)
        elif state == "voided":
            case.status = CaseStatus.SHARED
            case.updated_at = now
            append_record(session, kind="payout_rejected", subject=case.case_no, payload={
                "case_no": case.case_no, "amount": format_yuan(instruction.amount_fen),
                "end_to_end_id": instruction.end_to_end_id}, now=now)
    session.flush()
    return paid


def _refund_estate(session: Session, custodian: Custodian, *, plans: Mapping[str, Plan], case: Case, claim: Claim,
                   now: datetime) -> None:
    """After a death benefit is paid, the deceased member's remaining balance goes to the beneficiary."""
    plan = plans.get(case.plan_code)
    benefit = plan.benefit(case.benefit_code) if plan else None
    if benefit is None or not benefit.ends_membership:
        return
    member = session.get(Member, claim.member_id)
    assert member is not None
    account = session.get(LedgerAccount, member.ledger_account_id)
    assert account is not None
    if account.available <= 0:
        return
    instruction = instruct_payment(
        session, custodian, kind="refund", from_account=account, amount_fen=account.available,
        creditor_name=claim.beneficiary_name, creditor_account=claim.beneficiary_account,
        remittance_info=f"huzhu balance of deceased member, {case.case_no}", idempotency_key=f"estate:{case.case_no}",
        now=now, member_id=member.id,
    )
    failpoint("refund.estate_instructed")
    settle_instruction(session, custodian, instruction, now=now)
    failpoint("refund.estate_settled")


def _mark_paid(session: Session, case: Case, *, now: datetime, ref: CustodyInstruction | None) -> None:
    case.status = CaseStatus.PAID
    case.paid_at = now
    case.updated_at = now
    session.flush()
    append_record(session, kind="case_paid", subject=case.case_no, payload={
        "case_no": case.case_no,
        "paid": format_yuan(case.collected_fen or 0),
        "shortfall": format_yuan(case.shortfall_fen or 0),
        "end_to_end_id": ref.end_to_end_id if ref else None,
    }, now=now)


@dataclass(frozen=True)
class Payout:
    """A paid case as its beneficiary's receipt states it: what the bank paid, when, and the bank's
    reference for the payment (the ISO 20022 end-to-end id of the instruction the bank booked)."""

    case_no: str
    amount_fen: int
    shortfall_fen: int
    paid_at: datetime
    bank_reference: str | None  # None when nothing was collected, so nothing was sent to the bank
    account_last_digits: str  # the beneficiary's account, last four digits only


def payout_of(session: Session, case: Case) -> Payout | None:
    """The payout of a paid case (None while it is not paid)."""
    if case.status != CaseStatus.PAID or case.paid_at is None:
        return None
    instruction = _latest_instruction(session, case) if case.collected_fen else None
    claim = session.get(Claim, case.claim_id)
    account = (instruction.creditor_account if instruction else claim.beneficiary_account if claim else "") or ""
    return Payout(case_no=case.case_no, amount_fen=case.collected_fen or 0, shortfall_fen=case.shortfall_fen or 0,
                  paid_at=case.paid_at, bank_reference=instruction.end_to_end_id if instruction else None,
                  account_last_digits=account[-4:])
