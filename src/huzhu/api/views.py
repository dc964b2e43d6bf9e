"""Database rows → response bodies (one place, so private fields are chosen deliberately)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huzhu.api import schemas as s
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.casework.service import decision_reason
from huzhu.claims.models import Claim, InvestigationReport, PayeeChange
from huzhu.claims.service import timeline
from huzhu.clock import business_date
from huzhu.custody.models import CustodyInstruction, Reconciliation
from huzhu.identity import mask_bank_account, province_for
from huzhu.identity.masking import redact_identifiers
from huzhu.ledger.models import LedgerAccount, Transfer
from huzhu.ledger.service import transfer_state
from huzhu.members.models import Enrollment, Member
from huzhu.members.service import Coverage, coverage_state, coverage_status
from huzhu.messages import english
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus, Objection, ObjectionStatus
from huzhu.plans.loader import plan_digest
from huzhu.plans.schemas import Plan
from huzhu.transparency.log import current_view, verified_records
from huzhu.transparency.models import PublicRecord


def _english(text: object | None) -> str | None:
    return None if text is None else english(text)


def money(fen: int | None) -> str | None:
    return None if fen is None else format_yuan(fen)


def plan_public(plan: Plan) -> s.PlanPublic:
    def rule(b: Any) -> dict[str, object]:
        data = b.rule.model_dump()
        return {k.removesuffix("_fen"): (format_yuan(v) if k.endswith("_fen") else v) for k, v in data.items()} | (
            {"bands": [{"min_age": x.min_age, "max_age": x.max_age, "amount": format_yuan(x.amount_fen)}
                       for x in b.rule.bands]} if hasattr(b.rule, "bands") else {}
        )

    return s.PlanPublic(
        code=plan.code, version=plan.version, name_zh=plan.name_zh, name_en=plan.name_en,
        summary_zh=plan.summary_zh.strip(), summary_en=plan.summary_en.strip(), deposit=format_yuan(plan.deposit_fen),
        min_balance=format_yuan(plan.min_balance_fen), cap_per_case=format_yuan(plan.cap_per_case_fen),
        fee=format_yuan(plan.fee_fen), notice_days=plan.notice_days, waiting_members_share=plan.waiting_members_share,
        min_age_years=plan.eligibility.min_age_years, min_age_days=plan.eligibility.min_age_days,
        max_age_years=plan.eligibility.max_age_years,
        health_questions=[s.HealthQuestionPublic(code=q.code, text_zh=q.text_zh, text_en=q.text_en)
                          for q in plan.eligibility.health_questions],
        benefits=[s.BenefitPublic(code=b.code, name_zh=b.name_zh, name_en=b.name_en, category=b.category,
                                  waiting_days=b.waiting_days, rule=rule(b), documents=list(b.documents),
                                  covered_illnesses=[s.CoveredIllnessPublic(**i.model_dump())
                                                     for i in b.covered_illnesses]) for b in plan.benefits],
        exclusions=[s.ExclusionPublic(**e.model_dump()) for e in plan.exclusions],
        digest=plan_digest(plan),
    )


def member_read(session: Session, member: Member) -> s.MemberRead:
    account = session.get(LedgerAccount, member.ledger_account_id)
    assert account is not None
    return s.MemberRead(
        id=member.id, account_id=member.account_id, relationship=member.relationship, name=member.name,
        id_number_masked=member.id_number_masked, birth_date=member.birth_date, gender=member.gender,
        region_code=member.region_code, balance=format_yuan(account.credit_balance),
        available=format_yuan(account.available), pending=format_yuan(account.debits_pending),
        created_at=member.created_at,
    )


def balance_read(session: Session, member: Member, resumed: list[int] | None = None, *,
                 account: LedgerAccount | None = None) -> s.BalanceRead:
    account = account or session.get(LedgerAccount, member.ledger_account_id)
    assert account is not None
    return s.BalanceRead(member_id=member.id, balance=format_yuan(account.credit_balance),
                         available=format_yuan(account.available), pending=format_yuan(account.debits_pending),
                         resumed_enrollments=resumed or [])


def enrollment_read(plans: Mapping[str, Plan], enrollment: Enrollment, now: Any) -> s.EnrollmentRead:
    plan = plans.get(enrollment.plan_code)
    coverage: Coverage = (
        coverage_status(plan, enrollment, today=business_date(now)) if plan
        else {"state": coverage_state(enrollment, False), "benefits": []}
    )
    return s.EnrollmentRead(
        id=enrollment.id, member_id=enrollment.member_id, plan_code=enrollment.plan_code, status=enrollment.status,
        coverage_state=coverage["state"], joined_at=enrollment.joined_at, joined_on=enrollment.joined_on,
        coverage_anchor_on=enrollment.coverage_anchor_on, shares_from=enrollment.shares_from,
        benefits=[s.BenefitCoverage.model_validate(b) for b in coverage["benefits"]],
    )


def facts_read(stored: Mapping[str, Any] | None) -> s.ClaimFactsRead:
    stored = stored or {}
    bp = stored.get("fault_share_bp")
    return s.ClaimFactsRead(
        disability_grades=stored.get("disability_grades"), loss=money(stored.get("loss_fen")),
        fault_share_percent=None if bp is None else f"{bp // 100}.{bp % 100:02d}",
        insurance_paid=money(stored.get("insurance_paid_fen")),
    )


def facts_in(facts: s.ClaimFactsIn | None) -> dict[str, Any] | None:
    return None if facts is None else facts.model_dump(exclude_none=True)


def claim_read(session: Session, claim: Claim) -> s.ClaimRead:
    case_no = session.scalar(
        select(Case.case_no).where(Case.claim_id == claim.id, Case.status != CaseStatus.WITHDRAWN).order_by(Case.id.desc())
        .limit(1)
    )
    return s.ClaimRead(
        id=claim.id, claim_no=claim.claim_no, member_id=claim.member_id, plan_code=claim.plan_code,
        benefit_code=claim.benefit_code, status=claim.status, incident_date=claim.incident_date,
        incident_place=claim.incident_place, description=claim.description, facts=facts_read(claim.facts),
        beneficiary_name=claim.beneficiary_name, beneficiary_account_masked=mask_bank_account(claim.beneficiary_account),
        amount=money(claim.amount_fen), decision_reason=_english(decision_reason(claim.decision_reason)),
        investigator_account_id=claim.investigator_account_id, reviewer_account_id=claim.reviewer_account_id,
        case_no=case_no, filed_at=claim.filed_at, updated_at=claim.updated_at,
        timeline=[s.ClaimEventRead(occurred_at=e.occurred_at, from_status=e.from_status, to_status=e.to_status,
                                   note=e.note) for e in timeline(session, claim.id)],
    )


def payee_change_read(change: PayeeChange) -> s.PayeeChangeRead:
    return s.PayeeChangeRead(
        id=change.id, claim_id=change.claim_id, status=change.status, beneficiary_name=change.beneficiary_name,
        beneficiary_account_masked=mask_bank_account(change.beneficiary_account), reason=change.reason,
        proposed_by_account_id=change.proposed_by_account_id, proposed_at=change.proposed_at,
        decided_by_account_id=change.decided_by_account_id, decided_at=change.decided_at,
        decision_note=change.decision_note, previous_name=change.previous_name,
        previous_account_masked=mask_bank_account(change.previous_account) if change.previous_account else None,
    )


def report_read(report: InvestigationReport) -> s.ReportRead:
    return s.ReportRead(
        id=report.id, claim_id=report.claim_id, investigator_account_id=report.investigator_account_id,
        company=report.company, summary=report.summary, confirmed_incident_date=report.confirmed_incident_date,
        facts=facts_read(report.facts), submitted_at=report.submitted_at,
    )


def _run_nos(session: Session, run_ids: set[int]) -> dict[int, str]:
    if not run_ids:
        return {}
    rows = session.execute(select(ApportionmentRun.id, ApportionmentRun.run_no).where(ApportionmentRun.id.in_(run_ids)))
    return {run_id: run_no for run_id, run_no in rows}


def case_public(case: Case, run_no: str | None) -> s.CasePublic:
    province = province_for(case.province_code)
    return s.CasePublic(
        case_no=case.case_no, plan=case.plan_code, benefit=case.benefit_code, status=case.status,
        masked_name=case.masked_name, gender=case.gender, age=case.age, province_zh=province.name_zh,
        province_en=province.name_en, amount=format_yuan(case.amount_fen), fee=format_yuan(case.fee_fen),
        collected=money(case.collected_fen), shortfall=money(case.shortfall_fen),
        notice_starts_at=case.notice_starts_at, notice_ends_at=case.notice_ends_at,
        incident_summary=case.incident_summary, investigation_summary=case.investigation_summary,
        run_no=run_no, paid_at=case.paid_at,
    )


def cases_public(session: Session, cases: list[Case]) -> list[s.CasePublic]:
    runs = _run_nos(session, {c.run_id for c in cases if c.run_id is not None})
    return [case_public(c, runs.get(c.run_id) if c.run_id is not None else None) for c in cases]


def objection_public(objection: Objection, case_no: str) -> s.ObjectionPublic:
    """What anyone may read of an objection: its free text with phone, ID and account numbers starred."""
    return s.ObjectionPublic(id=objection.id, case_no=case_no, reason=redact_identifiers(objection.reason),
                             status=objection.status, filed_at=objection.filed_at,
                             resolution_note=redact_identifiers(objection.resolution_note)
                             if objection.resolution_note is not None else None,
                             resolved_at=objection.resolved_at)


def objection_read(objection: Objection, case_no: str) -> s.ObjectionRead:
    # The objector and staff read the text as it was written.
    public = objection_public(objection, case_no).model_dump() | {"reason": objection.reason,
                                                                  "resolution_note": objection.resolution_note}
    return s.ObjectionRead(**public, member_id=objection.member_id,
                           account_id=objection.account_id, resolved_by_account_id=objection.resolved_by_account_id)


def payout_public(session: Session, instruction: CustodyInstruction, case_no: str) -> s.PayoutPublic:
    pending = session.get(Transfer, instruction.pending_transfer_id)
    assert pending is not None
    return s.PayoutPublic(case_no=case_no, amount=format_yuan(instruction.amount_fen),
                          state=transfer_state(session, pending), end_to_end_id=instruction.end_to_end_id,
                          sent_at=instruction.sent_at)


def objection_records(records: list[PublicRecord], logged: dict[int, bool]) -> Callable[[Objection], bool]:
    """Checks an objection row against the log: its filing (and outcome, once resolved) must be
    records proved in the signed log whose text is the row's text as published (redacted)."""
    filed: dict[int, list[dict[str, Any]]] = {}
    outcome: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        if record.kind not in ("objection_filed", "objection_upheld", "objection_dismissed"):
            continue
        payload = json.loads(record.payload)
        payload["_in_log"] = logged.get(record.leaf_index, False)
        payload["_kind"] = record.kind
        (filed if record.kind == "objection_filed" else outcome).setdefault(payload.get("objection_id"), []).append(
            payload)

    def check(objection: Objection) -> bool:
        filing = filed.get(objection.id, [])
        if len(filing) != 1 or not filing[0]["_in_log"]:
            return False
        if filing[0].get("reason") != redact_identifiers(objection.reason):
            return False
        ends = outcome.get(objection.id, [])
        if objection.resolved_at is None:
            return not ends
        if len(ends) != 1 or not ends[0]["_in_log"]:
            return False
        expected = "objection_upheld" if objection.status == ObjectionStatus.UPHELD else "objection_dismissed"
        return ends[0]["_kind"] == expected and ends[0].get("note") == redact_identifiers(objection.resolution_note or "")

    return check


def case_detail_public(session: Session, case: Case) -> s.CaseDetailPublic:
    base = cases_public(session, [case])[0]
    events = timeline(session, case.claim_id, public_only=True)
    objections = session.scalars(select(Objection).where(Objection.case_id == case.id).order_by(Objection.id))
    payouts = session.scalars(
        select(CustodyInstruction).where(CustodyInstruction.case_id == case.id, CustodyInstruction.kind == "payout")
        .order_by(CustodyInstruction.id)
    )
    records = list(session.scalars(select(PublicRecord).where(PublicRecord.subject == case.case_no)
                                   .order_by(PublicRecord.leaf_index)))
    logged = verified_records(session, records)
    view = current_view(session)
    by_objection = objection_records(records, logged)
    return s.CaseDetailPublic(
        **base.model_dump(),
        # The claim's public events (verification progress), without staff account ids.
        timeline=[s.CaseEventPublic(occurred_at=e.occurred_at, to_status=e.to_status, note=e.note) for e in events],
        objections=[objection_public(o, case.case_no).model_copy(update={"in_log": by_objection(o)})
                    for o in objections],
        payouts=[payout_public(session, p, case.case_no) for p in payouts],
        public_records=[s.CaseRecordPublic(index=r.leaf_index, kind=r.kind, leaf_hash=r.leaf_hash, payload=r.payload,
                                           in_log=logged[r.leaf_index]) for r in records],
        tree_size=view.tree_size if view else 0, checkpoint=view.checkpoint if view else None,
    )


def run_public(run: ApportionmentRun) -> s.RunPublic:
    return s.RunPublic(
        run_no=run.run_no, as_of=run.as_of, cases_count=run.cases_count, sharing_members=run.sharing_members,
        total_benefit=format_yuan(run.total_benefit_fen), total_collected=format_yuan(run.total_collected_fen),
        total_shortfall=format_yuan(run.total_shortfall_fen), suspended_enrollments=run.suspended_enrollments,
    )


def run_case_public(rc: RunCase, case_no: str) -> s.RunCasePublic:
    return s.RunCasePublic(
        case_no=case_no, benefit=format_yuan(rc.benefit_fen), sharing_members=rc.sharing_members,
        paying_members=rc.paying_members, cap_per_member=format_yuan(rc.cap_fen),
        share_per_member=format_yuan(rc.level_fen), members_paying_one_fen_more=rc.leftover_fen,
        members_limited_by_balance=rc.members_limited_by_balance, collected=format_yuan(rc.collected_fen),
        shortfall=format_yuan(rc.shortfall_fen), leftover_pivot_member=rc.leftover_pivot_member_id,
        shares_root=rc.shares_root,
    )


def reconciliation_public(r: Reconciliation) -> s.ReconciliationPublic:
    return s.ReconciliationPublic(
        id=r.id, statement_id=r.statement_id, performed_at=r.performed_at, bank_closing=format_yuan(r.bank_closing_fen),
        ledger_custody=format_yuan(r.ledger_custody_fen), statement_entries=r.statement_entries,
        unmatched_entries=r.unmatched_entries, matched=r.matched,
    )
