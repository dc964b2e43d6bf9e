"""The claim state machine: submitted → investigating → reviewing → approved (notice) | rejected.

Separation of duties: the investigator of a claim never reviews it; review evaluates every plan
rule and the amount always comes from the rules, never from the reviewer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from huzhu.accounts.models import STAFF_ROLES, Account, Role
from huzhu.accounts.service import require_role
from huzhu.claims.errors import ClaimError
from huzhu.claims.models import Claim, ClaimEvent, ClaimStatus, InvestigationReport
from huzhu.clock import business_date
from huzhu.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotEligible, NotFound
from huzhu.members.models import Enrollment, Member
from huzhu.members.service import coverage_on, member_of_account
from huzhu.money import AmountField, parse_yuan
from huzhu.numbering import next_number
from huzhu.plans.errors import PlanError
from huzhu.plans.rules import ClaimEvaluation, ClaimFacts, age_on, evaluate_claim, in_force_date
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record

FACT_KEYS = {"disability_grades", "loss", "fault_share_percent", "insurance_paid"}


def parse_facts(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate claim facts from the outside world and store them in fen / basis points."""
    raw = dict(raw or {})
    unknown = set(raw) - FACT_KEYS
    if unknown:
        raise InvalidInput(ClaimError.UNKNOWN_FACTS, unknown=sorted(unknown), allowed=sorted(FACT_KEYS))
    facts: dict[str, Any] = {}
    if raw.get("disability_grades") is not None:
        grades = raw["disability_grades"]
        if not isinstance(grades, list | tuple) or not grades or not all(
            isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 10 for g in grades
        ):
            raise InvalidInput(ClaimError.GRADES)
        facts["disability_grades"] = list(grades)
    if raw.get("loss") is not None:
        facts["loss_fen"] = parse_yuan(raw["loss"], field=AmountField.LOSS)
    if raw.get("insurance_paid") is not None:
        facts["insurance_paid_fen"] = parse_yuan(raw["insurance_paid"], field=AmountField.INSURANCE_PAID,
                                                  allow_zero=True)
    if raw.get("fault_share_percent") is not None:
        text = str(raw["fault_share_percent"])
        if not re.fullmatch(r"\d{1,3}(\.\d{1,2})?", text, re.ASCII):
            raise InvalidInput(ClaimError.FAULT_FORMAT)
        whole, _, frac = text.partition(".")
        bp = int(whole) * 100 + int(frac.ljust(2, "0") or 0)
        if bp > 10000:
            raise InvalidInput(ClaimError.FAULT_RANGE)
        facts["fault_share_bp"] = bp
    return facts


def facts_for_rules(claim: Claim, member: Member, incident_date: date) -> ClaimFacts:
    stored = claim.facts or {}
    return ClaimFacts(
        age_at_incident=age_on(member.birth_date, incident_date),
        disability_grades=tuple(stored.get("disability_grades") or ()),
        loss_fen=stored.get("loss_fen"),
        fault_share_bp=stored.get("fault_share_bp"),
        insurance_paid_fen=stored.get("insurance_paid_fen"),
    )


def _event(session: Session, claim: Claim, *, to: ClaimStatus, actor: Account | None, note: str, now: datetime,
           public: bool = True) -> None:
    session.add(ClaimEvent(claim_id=claim.id, occurred_at=now, from_status=claim.status if claim.status != to else None,
                           to_status=to, actor_account_id=actor.id if actor else None, note=note, public=public))


# The notes a claim's timeline carries, as templates: the engine stores them filled in (English),
# the pages match a stored note back to its template and show it in the reader's language.
NOTE_FILED = "claim filed"
NOTE_INVESTIGATING = "third-party investigation started"
NOTE_REPORTED = "investigation report by %(company)s"
NOTE_APPROVED = "approved at %(amount)s by the plan rules"
NOTE_REJECTED = "rejected: %(reason)s"
NOTE_OBJECTION_UPHELD = "objection %(objection)s upheld: %(note)s"
NOTE_PAYEE_CHANGED = "payee changed (change %(change)s, approved by a second staff member)"
TIMELINE_NOTES = (NOTE_FILED, NOTE_INVESTIGATING, NOTE_REPORTED, NOTE_APPROVED, NOTE_REJECTED, NOTE_OBJECTION_UPHELD,
                  NOTE_PAYEE_CHANGED)


def transition(session: Session, claim: Claim, *, expected: ClaimStatus, to: ClaimStatus, actor: Account | None, note: str,
                now: datetime) -> None:
    if claim.status != expected:
        raise InvalidTransition(ClaimError.WRONG_STATE, claim=claim.claim_no, status=claim.status, expected=expected)
    _event(session, claim, to=to, actor=actor, note=note, now=now)
    claim.status = to
    claim.updated_at = now


def claim_or_raise(session: Session, claim_id: int) -> Claim:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(ClaimError.NO_SUCH_CLAIM, claim=claim_id)
    return claim


def claim_for_reading(session: Session, *, actor: Account, claim_id: int) -> Claim:
    """A claim as its own account sees it (another account's claims look absent) or as staff do:
    an investigator only the claims waiting for an investigator and those assigned to them."""
    claim = claim_or_raise(session, claim_id)
    if actor.role == Role.MEMBER:
        member = session.get(Member, claim.member_id)
        if member is None or member.account_id != actor.id:
            raise NotFound(ClaimError.NO_SUCH_CLAIM, claim=claim_id)
    elif actor.role not in STAFF_ROLES:
        raise Forbidden(ClaimError.NOT_ALLOWED)
    elif actor.role == Role.INVESTIGATOR and not investigator_may_see(claim, actor):
        raise Forbidden(ClaimError.NOT_ASSIGNED_READ)
    return claim


def investigator_may_see(claim: Claim, actor: Account) -> bool:
    """The queue (claims no investigator has taken) and the investigator's own claims."""
    return claim.investigator_account_id == actor.id or (
        claim.status == ClaimStatus.SUBMITTED and claim.investigator_account_id is None)


def visible_to_investigator(actor: Account) -> ColumnElement[bool]:
    """``investigator_may_see`` as a condition on the claims table, for lists."""
    return or_(Claim.investigator_account_id == actor.id,
               (Claim.status == ClaimStatus.SUBMITTED) & Claim.investigator_account_id.is_(None))


def plan_for(plans: Mapping[str, Plan], plan_code: str) -> Plan:
    plan = plans.get(plan_code)
    if plan is None:
        raise InvalidInput(PlanError.UNKNOWN_PLAN, plan=repr(plan_code), plans=sorted(plans))
    return plan


def file_claim(
    session: Session, *, plans: Mapping[str, Plan], actor: Account, member_id: int, plan_code: str,
    benefit_code: str, incident_date: date, now: datetime, beneficiary_name: str, beneficiary_account: str,
    incident_place: str = "", description: str = "", facts: Mapping[str, Any] | None = None,
) -> Claim:
    if actor.role != Role.MEMBER:
        # The beneficiary's account comes from the member; a payee is changed only under four eyes.
        raise Forbidden(ClaimError.MEMBERS_FILE)
    member = member_of_account(session, member_id=member_id, account=actor)
    plan = plan_for(plans, plan_code)
    benefit = plan.benefit(benefit_code)
    if benefit is None:
        raise InvalidInput(ClaimError.NO_SUCH_BENEFIT, plan=plan.title, benefit=repr(benefit_code),
                           benefits=plan.benefit_codes)
    if incident_date > business_date(now):
        raise InvalidInput(ClaimError.INCIDENT_IN_FUTURE)
    if not (beneficiary_name or "").strip() or len(beneficiary_name) > 100:
        raise InvalidInput(ClaimError.BENEFICIARY_NAME)
    if not re.fullmatch(r"\d{12,19}", beneficiary_account or "", re.ASCII):
        raise InvalidInput(ClaimError.BENEFICIARY_ACCOUNT)
    if len(description) > 5000 or len(incident_place) > 200:
        raise InvalidInput(ClaimError.TEXT_TOO_LONG)
    stored_facts = parse_facts(facts)
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.member_id == member.id, Enrollment.plan_code == plan.code)
        .order_by(Enrollment.id.desc()).limit(1)
    )
    if enrollment is None:
        raise NotEligible(ClaimError.NEVER_JOINED, member=member.id, plan=plan.title)
    in_force = in_force_date(benefit, enrollment.coverage_anchor_on)
    if incident_date < in_force:
        raise NotEligible(ClaimError.BEFORE_IN_FORCE, incident=incident_date, benefit=benefit.title,
                          in_force=in_force)
    duplicate = session.scalar(
        select(Claim.id).where(
            Claim.member_id == member.id, Claim.benefit_code == benefit.code, Claim.incident_date == incident_date,
            Claim.status != ClaimStatus.REJECTED,
        )
    )
    if duplicate is not None:
        raise Conflict(ClaimError.ALREADY_OPEN)
    claim = Claim(
        claim_no="pending-" + uuid.uuid4().hex[:16], member_id=member.id, enrollment_id=enrollment.id,
        plan_code=plan.code, benefit_code=benefit.code, status=ClaimStatus.SUBMITTED, incident_date=incident_date,
        incident_place=incident_place.strip(), description=description.strip(), facts=stored_facts,
        beneficiary_name=beneficiary_name.strip(), beneficiary_account=beneficiary_account,
        filed_by_account_id=actor.id, filed_at=now, updated_at=now,
    )
    session.add(claim)
    session.flush()
    claim.claim_no = f"HZC{next_number(session, 'claim'):08d}"
    _event(session, claim, to=ClaimStatus.SUBMITTED, actor=actor, note=NOTE_FILED, now=now)
    session.flush()
    # In the public log (no personal data): its number, plan and benefit; the member gets a receipt.
    append_record(session, kind="claim_filed", subject=claim.claim_no,
                  payload={"claim_no": claim.claim_no, "plan": plan.code, "benefit": benefit.code}, now=now)
    return claim


def start_investigation(session: Session, *, actor: Account, claim_id: int, now: datetime) -> Claim:
    require_role(actor, Role.INVESTIGATOR)
    claim = claim_or_raise(session, claim_id)
    transition(session, claim, expected=ClaimStatus.SUBMITTED, to=ClaimStatus.INVESTIGATING, actor=actor,
                note=NOTE_INVESTIGATING, now=now)
    claim.investigator_account_id = actor.id
    session.flush()
    return claim


def submit_report(
    session: Session, *, actor: Account, claim_id: int, company: str, summary: str,
    confirmed_incident_date: date, now: datetime, facts: Mapping[str, Any] | None = None,
) -> InvestigationReport:
    require_role(actor, Role.INVESTIGATOR)
    claim = claim_or_raise(session, claim_id)
    if claim.investigator_account_id != actor.id:
        raise Forbidden(ClaimError.NOT_ASSIGNED)
    if not (company or "").strip() or not (summary or "").strip():
        raise InvalidInput(ClaimError.REPORT_REQUIRED)
    if len(summary) > 5000 or len(company) > 200:
        raise InvalidInput(ClaimError.REPORT_TOO_LONG)
    if confirmed_incident_date > business_date(now):
        raise InvalidInput(ClaimError.CONFIRMED_IN_FUTURE)
    found = parse_facts(facts)
    transition(session, claim, expected=ClaimStatus.INVESTIGATING, to=ClaimStatus.REVIEWING, actor=actor,
                note=NOTE_REPORTED % {"company": company.strip()}, now=now)
    report = InvestigationReport(
        claim_id=claim.id, investigator_account_id=actor.id, company=company.strip(), summary=summary.strip(),
        confirmed_incident_date=confirmed_incident_date, facts=found, submitted_at=now,
    )
    session.add(report)
    # The investigation's findings are what the rules are evaluated on.
    claim.facts = {**(claim.facts or {}), **found}
    claim.incident_date = confirmed_incident_date
    session.flush()
    return report


def latest_report(session: Session, claim: Claim) -> InvestigationReport | None:
    return session.scalar(
        select(InvestigationReport).where(InvestigationReport.claim_id == claim.id)
        .order_by(InvestigationReport.id.desc()).limit(1)
    )


def evaluate(session: Session, *, plans: Mapping[str, Plan], claim: Claim) -> ClaimEvaluation:
    """Every plan rule, checked against the coverage history and the investigated facts."""
    plan = plan_for(plans, claim.plan_code)
    member = session.get(Member, claim.member_id)
    enrollment = session.get(Enrollment, claim.enrollment_id)
    assert member is not None and enrollment is not None
    active, anchor = coverage_on(session, enrollment, claim.incident_date)
    return evaluate_claim(
        plan, benefit_code=claim.benefit_code, incident_date=claim.incident_date, coverage_anchor=anchor,
        enrollment_active_on_incident=active, facts=facts_for_rules(claim, member, claim.incident_date),
    )


def return_to_review(session: Session, *, claim: Claim, actor: Account, note: str, now: datetime) -> None:
    """An upheld objection sends the approved claim back to review."""
    transition(session, claim, expected=ClaimStatus.APPROVED, to=ClaimStatus.REVIEWING, actor=actor, note=note,
               now=now)
    claim.amount_fen = None
    session.flush()


def timeline(session: Session, claim_id: int, *, public_only: bool = False) -> list[ClaimEvent]:
    query = select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.occurred_at, ClaimEvent.id)
    if public_only:
        query = query.where(ClaimEvent.public.is_(True))
    return list(session.scalars(query))
