"""Casework: the reviewer's decision on a claim and the objection procedure — the one home of the
flow *approve → public case in notice → objection upheld → claim back to review*.

It joins the claims domain (the claim's state machine) and the notices domain (the public case and
objections), which do not import each other's workflow: separation of duties is kept here — the
investigator of a claim never reviews it, and an objection is resolved by a reviewer who neither
approved nor investigated the case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.accounts.service import require_role
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.apportionment.payouts import Payout, payout_of
from huzhu.casework.errors import CaseworkError, CaseworkText
from huzhu.claims import service as claims
from huzhu.claims.models import Claim, ClaimStatus, Decision, ReviewDecision
from huzhu.errors import Forbidden, InvalidInput, InvalidTransition, NotEligible
from huzhu.identity.masking import redact_identifiers
from huzhu.members.models import Member
from huzhu.members.service import end_membership
from huzhu.messages import Message
from huzhu.money import format_yuan
from huzhu.notices import service as notices
from huzhu.notices.models import Case, CaseStatus, NoticeState, Objection, ObjectionStatus
from huzhu.plans.loader import plan_digest
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record


def decide(
    session: Session, *, plans: Mapping[str, Plan], actor: Account, claim_id: int, approve: bool, reason: str,
    now: datetime,
) -> tuple[Claim, Case | None]:
    """Approve at the computed amount (the case enters public notice) or reject with a reason."""
    require_role(actor, Role.REVIEWER)
    claim = claims.claim_or_raise(session, claim_id)
    if claim.investigator_account_id == actor.id:
        raise Forbidden(CaseworkError.INVESTIGATOR_CANNOT_REVIEW)
    if claim.status != ClaimStatus.REVIEWING:
        raise InvalidTransition(CaseworkError.NOT_IN_REVIEW, claim=claim.claim_no, status=claim.status)
    reason = (reason or "").strip()
    if not reason and not approve:
        raise InvalidInput(CaseworkError.REJECTION_REASON)
    if len(reason) > 5000:
        raise InvalidInput(CaseworkError.REASON_TOO_LONG)
    plan = claims.plan_for(plans, claim.plan_code)
    evaluation = claims.evaluate(session, plans=plans, claim=claim)
    if approve and not evaluation.passed:
        raise NotEligible(CaseworkError.CHECKS_FAILED, failed=[
            Message(CaseworkText.FAILED_CHECK, {"check": c.code, "finding": c.message}) for c in evaluation.failed()])
    decision = ReviewDecision(
        claim_id=claim.id, reviewer_account_id=actor.id, decision=Decision.APPROVE if approve else Decision.REJECT,
        reason=reason or CaseworkText.ALL_RULES_SATISFIED.value, checks=[c.stored() for c in evaluation.checks],
        computed_amount_fen=evaluation.amount_fen, plan_digest=plan_digest(plan), decided_at=now,
    )
    session.add(decision)
    claim.reviewer_account_id = actor.id
    case = None
    if approve:
        assert evaluation.amount_fen is not None
        claim.amount_fen = evaluation.amount_fen
        claim.decision_reason = decision.reason
        claims.transition(session, claim, expected=ClaimStatus.REVIEWING, to=ClaimStatus.APPROVED, actor=actor,
                    note=claims.NOTE_APPROVED % {"amount": format_yuan(evaluation.amount_fen)}, now=now)
        session.flush()
        case = notices.open_case(session, plan=plan, claim=claim, reviewer=actor, now=now)
        benefit = plan.benefit(claim.benefit_code)
        if benefit is not None and benefit.ends_membership:
            member = session.get(Member, claim.member_id)
            assert member is not None
            end_membership(session, member=member, reason=f"deceased: claim {claim.claim_no} approved", now=now)
    else:
        claim.decision_reason = reason
        claims.transition(session, claim, expected=ClaimStatus.REVIEWING, to=ClaimStatus.REJECTED, actor=actor,
                          note=claims.NOTE_REJECTED % {"reason": reason}, now=now)
    session.flush()
    return claim, case


def decision_reason(stored: str | None) -> Message | str | None:
    """A decision's reason as stored: the reviewer's own words, or the code of a text the engine
    wrote (``CaseworkText.ALL_RULES_SATISFIED``), to be read in the reader's language."""
    text = CaseworkText.named(stored)
    return Message(text) if text is not None else stored


def second_reviewer(actor: Account, *, case: Case, claim: Claim) -> bool:
    """Whether ``actor`` may resolve objections to ``case``: a reviewer who neither approved nor
    investigated it (separation of duties)."""
    return actor.role == Role.REVIEWER and actor.id not in (case.approved_by_account_id,
                                                            claim.investigator_account_id)


def may_resolve(session: Session, *, actor: Account, objection: Objection) -> bool:
    """Whether the page should offer ``actor`` the resolve form for this objection at all."""
    case = notices.case_or_raise(session, objection.case_id)
    claim = session.get(Claim, case.claim_id)
    return (objection.status == ObjectionStatus.OPEN and claim is not None
            and second_reviewer(actor, case=case, claim=claim))


_WITHDRAWN = re.compile(re.escape(CaseworkText.CASE_WITHDRAWN.template).replace(
    re.escape("%(objection)s"), r"(?P<objection>\d+)") + r"\Z")


def resolution_note(stored: str | None) -> Message | str | None:
    """An objection's resolution note as stored: the reviewer's own words, or the engine's note for
    the other objections of a withdrawn case, read back as its code with its values."""
    found = _WITHDRAWN.match(stored or "")
    if found:
        return Message(CaseworkText.CASE_WITHDRAWN, {"objection": int(found["objection"])})
    return stored


def resolve_objection(
    session: Session, *, actor: Account, objection_id: int, upheld: bool, note: str, now: datetime
) -> Objection:
    require_role(actor, Role.REVIEWER)
    objection = notices.objection_or_raise(session, objection_id)
    case = notices.case_or_raise(session, objection.case_id)
    claim = session.get(Claim, case.claim_id)
    assert claim is not None
    if not second_reviewer(actor, case=case, claim=claim):
        raise Forbidden(CaseworkError.SECOND_REVIEWER)
    if objection.status != ObjectionStatus.OPEN:
        raise InvalidTransition(CaseworkError.OBJECTION_RESOLVED, objection=objection.id, status=objection.status)
    note = (note or "").strip()
    if not 2 <= len(note) <= 2000:
        raise InvalidInput(CaseworkError.RESOLUTION_NOTE)
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    objection.resolved_by_account_id = actor.id
    objection.resolution_note = note
    objection.resolved_at = now
    closed_with: list[Objection] = []
    if upheld:
        # The case is withdrawn from notice; the claim goes back to review (a new approval opens a new case).
        for other in session.scalars(
            select(Objection).where(Objection.case_id == case.id, Objection.status == ObjectionStatus.OPEN,
                                  Objection.id != objection.id)
        ):
            other.status, other.resolved_by_account_id, other.resolved_at = ObjectionStatus.UPHELD, actor.id, now
            other.resolution_note = CaseworkText.CASE_WITHDRAWN.english({"objection": objection.id})
            closed_with.append(other)
        case.status = CaseStatus.WITHDRAWN
        case.updated_at = now
        claims.return_to_review(session, claim=claim, actor=actor,
                         note=claims.NOTE_OBJECTION_UPHELD % {"objection": objection.id, "note": note}, now=now)
    session.flush()
    append_record(session, kind="objection_upheld" if upheld else "objection_dismissed", subject=case.case_no,
                  payload={"objection_id": objection.id, "note": redact_identifiers(note)}, now=now)
    for other in closed_with:  # their outcome is in the public log too
        append_record(session, kind="objection_upheld", subject=case.case_no,
                      payload={"objection_id": other.id, "note": redact_identifiers(other.resolution_note or ""),
                               "with": objection.id}, now=now)
    return objection


@dataclass(frozen=True)
class ClaimJourney:
    """Everything that happened to a claim after its approval, for the claimant: the public notice,
    every objection and its outcome, the run that shared the case and the payout with the bank's
    reference. ``case`` is the current case; earlier ones were withdrawn after an upheld objection."""

    case: Case | None
    withdrawn: list[Case] = field(default_factory=list)
    notice: NoticeState | None = None
    objections: list[Objection] = field(default_factory=list)
    run: ApportionmentRun | None = None
    run_case: RunCase | None = None
    payout: Payout | None = None


def claim_journey(session: Session, *, claim: Claim, now: datetime) -> ClaimJourney:
    cases = list(session.scalars(select(Case).where(Case.claim_id == claim.id).order_by(Case.id)))
    if not cases:
        return ClaimJourney(case=None)
    current = cases[-1] if cases[-1].status != CaseStatus.WITHDRAWN else None
    objections = list(session.scalars(select(Objection).where(Objection.case_id.in_([c.id for c in cases]))
                                      .order_by(Objection.filed_at, Objection.id)))
    run_case = session.scalar(select(RunCase).where(RunCase.case_id == current.id)) if current else None
    return ClaimJourney(
        case=current, withdrawn=[c for c in cases if c.status == CaseStatus.WITHDRAWN],
        notice=notices.notice_state(session, current, now=now) if current else None, objections=objections,
        run=session.get(ApportionmentRun, run_case.run_id) if run_case else None, run_case=run_case,
        payout=payout_of(session, current) if current else None,
    )
