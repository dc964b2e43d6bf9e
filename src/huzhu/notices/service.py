"""Public notice (7 days by default) and objections: any member may object; a different
reviewer resolves it (upheld → the claim goes back to review; dismissed → the case proceeds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from huzhu.accounts.models import Account, Role
from huzhu.accounts.service import require_role
from huzhu.claims.models import Claim, Evidence
from huzhu.claims.service import latest_report
from huzhu.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound
from huzhu.identity import mask_name, province_for
from huzhu.identity.masking import redact_identifiers
from huzhu.ledger.models import CASE_POOL
from huzhu.ledger.service import open_account
from huzhu.members.models import Enrollment, EnrollmentStatus, Member
from huzhu.members.service import member_of_account
from huzhu.money import format_yuan
from huzhu.notices.errors import NoticeError
from huzhu.notices.models import Case, CaseStatus, NoticeState, Objection, ObjectionStatus
from huzhu.numbering import next_number
from huzhu.plans.rules import age_on, in_force_date
from huzhu.plans.schemas import Plan
from huzhu.transparency.service import append_record


def public_case_payload(case: Case) -> dict[str, object]:
    """The anonymised facts of a case, as published (never a name, ID, phone or bank account)."""
    province = province_for(case.province_code)
    return {
        "case_no": case.case_no,
        "plan": case.plan_code,
        "benefit": case.benefit_code,
        "masked_name": case.masked_name,
        "gender": case.gender,
        "age": case.age,
        "province_zh": province.name_zh,
        "province_en": province.name_en,
        "amount": format_yuan(case.amount_fen),
        "fee": format_yuan(case.fee_fen),
        "notice_starts_at": case.notice_starts_at.isoformat(),
        "notice_ends_at": case.notice_ends_at.isoformat(),
        "incident_summary": case.incident_summary,
        "investigation_summary": case.investigation_summary,
    }


def open_case(session: Session, *, plan: Plan, claim: Claim, reviewer: Account, now: datetime) -> Case:
    """An approved claim becomes a public case in notice for the plan's notice days."""
    member = session.get(Member, claim.member_id)
    assert member is not None and claim.amount_fen is not None
    report = latest_report(session, claim)
    benefit = plan.benefit(claim.benefit_code)
    assert benefit is not None
    pool = open_account(session, kind=CASE_POOL, now=now)
    case = Case(
        case_no="pending-" + claim.claim_no, claim_id=claim.id, plan_code=plan.code, benefit_code=claim.benefit_code,
        status=CaseStatus.IN_NOTICE, amount_fen=claim.amount_fen, fee_fen=plan.fee_fen, masked_name=mask_name(member.name),
        gender=member.gender, age=age_on(member.birth_date, claim.incident_date),
        province_code=member.region_code[:2],
        incident_summary=f"{claim.incident_date.isoformat()} {benefit.name_zh} / {benefit.name_en}",
        investigation_summary=redact_identifiers(report.summary) if report else "",
        ledger_account_id=pool.id, approved_by_account_id=reviewer.id, notice_starts_at=now,
        notice_ends_at=now + timedelta(days=plan.notice_days), updated_at=now,
    )
    session.add(case)
    session.flush()
    case.case_no = f"HZ{next_number(session, 'case'):06d}"
    session.flush()
    append_record(session, kind="case_noticed", subject=case.case_no, payload=public_case_payload(case), now=now)
    return case


def case_or_raise(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(NoticeError.NO_SUCH_CASE, case=case_id)
    return case


def case_by_no(session: Session, case_no: str) -> Case:
    """A case by its public number (HZ000001)."""
    case = session.scalar(select(Case).where(Case.case_no == case_no))
    if case is None:
        raise NotFound(NoticeError.NO_SUCH_CASE, case=case_no)
    return case


def file_objection(
    session: Session, *, actor: Account, case_id: int, member_id: int, reason: str, now: datetime
) -> Objection:
    require_role(actor, Role.MEMBER)
    case = case_or_raise(session, case_id)
    if case.status != CaseStatus.IN_NOTICE or now >= case.notice_ends_at:
        raise InvalidTransition(NoticeError.OBJECTIONS_CLOSED, case=case.case_no)
    member = member_of_account(session, member_id=member_id, account=actor)
    is_member = session.scalar(
        select(exists().where(Enrollment.member_id == member.id, Enrollment.status != EnrollmentStatus.LEFT))
    )
    if not is_member:
        raise Forbidden(NoticeError.MEMBERS_ONLY)
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput(NoticeError.REASON_LENGTH)
    already = session.scalar(select(Objection.id).where(Objection.case_id == case.id, Objection.member_id == member.id))
    if already is not None:
        raise Conflict(NoticeError.ALREADY_OBJECTED)
    objection = Objection(case_id=case.id, member_id=member.id, account_id=actor.id, reason=reason,
                          status=ObjectionStatus.OPEN, filed_at=now)
    session.add(objection)
    session.flush()
    append_record(session, kind="objection_filed", subject=case.case_no,
                  payload={"objection_id": objection.id, "reason": redact_identifiers(reason)}, now=now)
    return objection


def objection_or_raise(session: Session, objection_id: int) -> Objection:
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFound(NoticeError.NO_SUCH_OBJECTION, objection=objection_id)
    return objection


def due_cases(session: Session, *, now: datetime) -> list[Case]:
    """Cases whose notice has ended with no open objection, oldest first."""
    open_objection = exists().where(Objection.case_id == Case.id, Objection.status == ObjectionStatus.OPEN)
    return list(
        session.scalars(
            select(Case)
            .where(Case.status == CaseStatus.IN_NOTICE, Case.notice_ends_at <= now, ~open_objection)
            .order_by(Case.notice_ends_at, Case.id)
        )
    )


# ---------------------------------------------------------------- what the pages show of a notice


def notice_state(session: Session, case: Case, *, now: datetime) -> NoticeState | None:
    """One state per case in notice (None once it has left the notice)."""
    if case.status != CaseStatus.IN_NOTICE:
        return None
    if now < case.notice_ends_at:
        return NoticeState.RUNNING
    held = session.scalar(select(exists().where(Objection.case_id == case.id,
                                                Objection.status == ObjectionStatus.OPEN)))
    return NoticeState.HELD if held else NoticeState.DUE


def notice_board(session: Session, *, now: datetime) -> dict[NoticeState, list[Case]]:
    """Every case in notice under exactly one state (the admin's view before a run)."""
    board: dict[NoticeState, list[Case]] = {state: [] for state in NoticeState}
    open_objection = exists().where(Objection.case_id == Case.id, Objection.status == ObjectionStatus.OPEN)
    for case, held in session.execute(
        select(Case, open_objection.label("held")).where(Case.status == CaseStatus.IN_NOTICE)
        .order_by(Case.notice_ends_at, Case.id)
    ):
        if now < case.notice_ends_at:
            board[NoticeState.RUNNING].append(case)
        else:
            board[NoticeState.HELD if held else NoticeState.DUE].append(case)
    return board


@dataclass(frozen=True)
class NoticeFacts:
    """What an objector needs to judge a case, and nothing private: when the member joined and when
    the cover came into force, the incident's date and place, which kinds of document were checked
    (never their contents) and who investigated."""

    joined_on: date | None
    in_force_on: date | None
    incident_date: date | None
    incident_place: str
    investigation_company: str
    documents: list[tuple[str, int]]  # (kind, how many), in the order first received


def notice_facts(session: Session, *, plan: Plan | None, case: Case) -> NoticeFacts:
    claim = session.get(Claim, case.claim_id)
    if claim is None:
        return NoticeFacts(None, None, None, "", "", [])
    enrollment = session.get(Enrollment, claim.enrollment_id)
    benefit = plan.benefit(case.benefit_code) if plan else None
    in_force = in_force_date(benefit, enrollment.coverage_anchor_on) if benefit and enrollment else None
    report = latest_report(session, claim)
    kinds: dict[str, int] = {}
    for kind in session.scalars(select(Evidence.kind).where(Evidence.claim_id == claim.id,
                                                            Evidence.uploaded_at <= case.notice_starts_at)
                                .order_by(Evidence.id)):
        kinds[str(kind)] = kinds.get(str(kind), 0) + 1
    return NoticeFacts(
        joined_on=enrollment.joined_on if enrollment else None, in_force_on=in_force,
        incident_date=claim.incident_date, incident_place=redact_identifiers(claim.incident_place or ""),
        investigation_company=redact_identifiers(report.company) if report else "",
        documents=list(kinds.items()),
    )


def possible_objectors(session: Session, *, account: Account, case: Case) -> list[Member]:
    """The members of an account who may still object to this case: in a plan, not the claimant, and
    not objected to it already."""
    claim = session.get(Claim, case.claim_id)
    in_plan = exists().where(Enrollment.member_id == Member.id, Enrollment.status != EnrollmentStatus.LEFT)
    objected = exists().where(Objection.case_id == case.id, Objection.member_id == Member.id)
    query = select(Member).where(Member.account_id == account.id, in_plan, ~objected).order_by(Member.id)
    if claim is not None:
        query = query.where(Member.id != claim.member_id)
    return list(session.scalars(query))


def objections_of_account(session: Session, *, account: Account) -> list[tuple[Objection, Case]]:
    """Every objection an account's members filed, newest first, with its case (to tell the outcome)."""
    return [(o, c) for o, c in session.execute(
        select(Objection, Case).join(Case, Case.id == Objection.case_id)
        .where(Objection.account_id == account.id).order_by(Objection.filed_at.desc(), Objection.id.desc()))]
