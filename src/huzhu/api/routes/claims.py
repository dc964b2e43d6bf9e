"""Claims: filing, evidence upload, third-party investigation, rule-checked review and decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from huzhu.accounts.models import STAFF_ROLES, Account, Role
from huzhu.api import schemas as s
from huzhu.api import views
from huzhu.api.pagination import Page, PageDep, page_of
from huzhu.api.schemas import MAX_ID
from huzhu.audit.models import ReadSubject
from huzhu.casework import payee
from huzhu.casework import service as casework
from huzhu.claims import evidence as evidence_rules
from huzhu.claims import service as claims
from huzhu.claims.errors import ClaimError
from huzhu.claims.models import (
    Claim,
    ClaimStatus,
    Evidence,
    EvidenceKind,
    InvestigationReport,
    PayeeChange,
    ReviewDecision,
)
from huzhu.errors import Forbidden, NotFound
from huzhu.http.audit import record_staff_read
from huzhu.http.deps import CurrentAccount, NowDep, PlatformDep, SessionDep, require_role
from huzhu.members.models import Member
from huzhu.money import format_yuan
from huzhu.plans.rules import ClaimEvaluation
from huzhu.receipts import receipt_of, receipt_pdf
from huzhu.receipts.errors import ReceiptError
from huzhu.transparency.log import issue_receipt

router = APIRouter(prefix="/claims", tags=["claims"])
ClaimId = Annotated[int, Path(ge=1, le=MAX_ID)]
PayeeReader = Annotated[Account, Depends(require_role(Role.REVIEWER, Role.ADMIN, Role.AUDITOR))]


@router.post("", status_code=201, response_model=s.ClaimRead, summary="File a claim for a member of my account",
             description="Members only: the beneficiary account comes from the member's own account. Staff cannot "
                         "file claims; a payee changes only by a second staff member's approval (payee changes).")
def file_claim(body: s.ClaimCreate, session: SessionDep, account: CurrentAccount, now: NowDep,
               platform: PlatformDep) -> s.ClaimRead:
    claim = claims.file_claim(
        session, plans=platform.plans, actor=account, member_id=body.member_id, plan_code=body.plan_code,
        benefit_code=body.benefit_code, incident_date=body.incident_date, now=now,
        beneficiary_name=body.beneficiary_name, beneficiary_account=body.beneficiary_account,
        incident_place=body.incident_place, description=body.description, facts=views.facts_in(body.facts),
    )
    read = views.claim_read(session, claim)
    read.receipt = issue_receipt(session, kind="claim_filed", subject=claim.claim_no, now=now)
    return read


@router.get("", response_model=Page[s.ClaimRead],
            summary="My account's claims (staff: all claims; investigators: the queue and their own)")
def list_claims(
    request: Request, session: SessionDep, account: CurrentAccount, page: PageDep,
    status: Annotated[ClaimStatus | None, Query()] = None,
) -> Page[s.ClaimRead]:
    query = select(Claim)
    if account.role == Role.MEMBER:
        query = query.join(Member, Member.id == Claim.member_id).where(Member.account_id == account.id)
    elif account.role not in STAFF_ROLES:
        raise Forbidden(ClaimError.NOT_ALLOWED)
    elif account.role == Role.INVESTIGATOR:
        query = query.where(claims.visible_to_investigator(account))
    if status is not None:
        query = query.where(Claim.status == status)
    rows, cursor = page_of(session, query, Claim.id, page, key=lambda c: c.id)
    record_staff_read(request, account, ReadSubject.CLAIM, (c.id for c in rows))
    return Page(items=[views.claim_read(session, c) for c in rows], next_cursor=cursor)


@router.get("/{claim_id}", response_model=s.ClaimRead)
def get_claim(claim_id: ClaimId, request: Request, session: SessionDep, account: CurrentAccount) -> s.ClaimRead:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    record_staff_read(request, account, ReadSubject.CLAIM, [claim.id])
    return views.claim_read(session, claim)


# ---------------------------------------------------------------- evidence


def _evidence_read(e: Evidence) -> s.EvidenceRead:
    return s.EvidenceRead(id=e.id, claim_id=e.claim_id, kind=e.kind, filename=e.filename,
                          content_type=e.content_type, size_bytes=e.size_bytes, sha256=e.sha256,
                          uploaded_at=e.uploaded_at)


@router.post("/{claim_id}/evidence", status_code=201, response_model=s.EvidenceRead,
             summary="Upload a document (PDF, JPEG or PNG; size-limited); its SHA-256 is recorded",
             responses={413: {"description": "file too large"}, 415: {"description": "not a PDF, JPEG or PNG"}})
def upload_evidence(
    claim_id: ClaimId, session: SessionDep, account: CurrentAccount, now: NowDep, platform: PlatformDep,
    file: Annotated[UploadFile, File(description="the document")],
    kind: Annotated[EvidenceKind, Form()] = EvidenceKind.OTHER,
) -> s.EvidenceRead:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    evidence_rules.check_may_add(session, actor=account, claim=claim)
    store = platform.evidence
    staged = store.stage(file.file, file.filename)
    try:
        evidence = evidence_rules.add_evidence(session, store, actor=account, claim=claim, staged=staged,
                                               kind=kind, now=now)
    finally:
        store.discard(staged)
    return _evidence_read(evidence)


@router.get("/{claim_id}/evidence", response_model=Page[s.EvidenceRead])
def list_evidence(claim_id: ClaimId, request: Request, session: SessionDep, account: CurrentAccount,
                  page: PageDep) -> Page[s.EvidenceRead]:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    evidence_rules.check_may_read(session, actor=account, claim=claim)
    rows, cursor = page_of(session, select(Evidence).where(Evidence.claim_id == claim.id), Evidence.id, page,
                           key=lambda e: e.id, descending=False)
    record_staff_read(request, account, ReadSubject.EVIDENCE, (e.id for e in rows))
    return Page(items=[_evidence_read(e) for e in rows], next_cursor=cursor)


def content_disposition(filename: str) -> str:
    """``attachment`` with the name as RFC 6266/5987 has it (what ``FileResponse`` would send)."""
    from urllib.parse import quote

    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


@router.get("/{claim_id}/evidence/{evidence_id}/content", response_class=StreamingResponse,
            responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}},
                             "description": "the document"}},
            summary="Download a document (the claim's account, its assigned investigator, reviewers, admins)")
def download_evidence(claim_id: ClaimId, evidence_id: ClaimId, request: Request, session: SessionDep,
                      account: CurrentAccount, platform: PlatformDep) -> StreamingResponse:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    evidence, _ = evidence_rules.open_evidence(session, platform.evidence, actor=account,
                                               evidence_id=evidence_id, claim_id=claim.id)
    record_staff_read(request, account, ReadSubject.EVIDENCE, [evidence.id])
    chunks = platform.evidence.chunks(evidence)  # sealed at rest: streamed back opened
    return StreamingResponse(chunks, media_type=evidence.content_type, headers={
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Disposition": content_disposition(evidence.filename), "Content-Length": str(evidence.size_bytes)})


# ---------------------------------------------------------------- investigation and review


@router.post("/{claim_id}/investigation", response_model=s.ClaimRead, summary="Start the investigation (investigator)")
def start_investigation(claim_id: ClaimId, session: SessionDep, account: CurrentAccount, now: NowDep) -> s.ClaimRead:
    claim = claims.start_investigation(session, actor=account, claim_id=claim_id, now=now)
    return views.claim_read(session, claim)


@router.post("/{claim_id}/investigation/report", status_code=201, response_model=s.ReportRead,
             summary="Submit the investigation report (the assigned investigator)")
def submit_report(claim_id: ClaimId, body: s.ReportCreate, session: SessionDep, account: CurrentAccount,
                  now: NowDep) -> s.ReportRead:
    report = claims.submit_report(
        session, actor=account, claim_id=claim_id, company=body.company, summary=body.summary,
        confirmed_incident_date=body.confirmed_incident_date, now=now, facts=views.facts_in(body.facts),
    )
    return views.report_read(report)


@router.get("/{claim_id}/investigation/reports", response_model=Page[s.ReportRead])
def list_reports(claim_id: ClaimId, request: Request, session: SessionDep, account: CurrentAccount,
                 page: PageDep) -> Page[s.ReportRead]:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    rows, cursor = page_of(session, select(InvestigationReport).where(InvestigationReport.claim_id == claim.id),
                           InvestigationReport.id, page, key=lambda r: r.id)
    record_staff_read(request, account, ReadSubject.INVESTIGATION_REPORT, (r.id for r in rows))
    return Page(items=[views.report_read(r) for r in rows], next_cursor=cursor)


def _checks(evaluation: ClaimEvaluation) -> list[s.RuleCheckRead]:
    return [s.RuleCheckRead(code=c.code, passed=c.passed, detail=c.detail) for c in evaluation.checks]


@router.get("/{claim_id}/evaluation", response_model=s.EvaluationRead,
            summary="Every plan rule checked against the claim (reviewers, admins, auditors)")
def evaluation(claim_id: ClaimId, request: Request, session: SessionDep, account: CurrentAccount,
               platform: PlatformDep) -> s.EvaluationRead:
    if account.role not in (Role.REVIEWER, Role.ADMIN, Role.AUDITOR):
        raise Forbidden(ClaimError.RULE_CHECKS_ONLY)
    claim = claims.claim_or_raise(session, claim_id)
    record_staff_read(request, account, ReadSubject.CLAIM, [claim.id])
    result = claims.evaluate(session, plans=platform.plans, claim=claim)
    return s.EvaluationRead(claim_id=claim.id, passed=result.passed,
                            amount=None if result.amount_fen is None else format_yuan(result.amount_fen),
                            checks=_checks(result))


@router.post("/{claim_id}/decision", response_model=s.DecisionRead,
             summary="Approve at the computed amount (public notice starts) or reject with a reason (reviewer)")
def decide(claim_id: ClaimId, body: s.DecisionCreate, session: SessionDep, account: CurrentAccount, now: NowDep,
           platform: PlatformDep) -> s.DecisionRead:
    claim, case = casework.decide(session, plans=platform.plans, actor=account, claim_id=claim_id,
                                approve=body.approve, reason=body.reason, now=now)
    decision = session.scalar(select(ReviewDecision).where(ReviewDecision.claim_id == claim.id)
                              .order_by(ReviewDecision.id.desc()).limit(1))
    assert decision is not None
    return s.DecisionRead(
        claim=views.claim_read(session, claim), decision=decision.decision,
        checks=[s.RuleCheckRead(**c) for c in decision.checks],
        amount=None if decision.computed_amount_fen is None else format_yuan(decision.computed_amount_fen),
        case_no=case.case_no if case else None,
    )


# ---------------------------------------------------------------- after approval: the claimant's outcome


@router.get("/{claim_id}/outcome", response_model=s.ClaimOutcomeRead,
            summary="What happened after approval: notice, objections and their outcome, run, payout")
def claim_outcome(claim_id: ClaimId, session: SessionDep, account: CurrentAccount, now: NowDep) -> s.ClaimOutcomeRead:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    journey = casework.claim_journey(session, claim=claim, now=now)
    case, payout = journey.case, journey.payout
    numbers = {c.id: c.case_no for c in ([case] if case else []) + journey.withdrawn}
    return s.ClaimOutcomeRead(
        claim_no=claim.claim_no, status=claim.status, case_no=case.case_no if case else None,
        notice_starts_at=case.notice_starts_at if case else None, notice_ends_at=case.notice_ends_at if case else None,
        notice_state=journey.notice, withdrawn_cases=[c.case_no for c in journey.withdrawn],
        objections=[views.objection_public(o, numbers.get(o.case_id, "")) for o in journey.objections],
        run_no=journey.run.run_no if journey.run else None,
        paying_members=journey.run_case.paying_members if journey.run_case else None,
        collected=format_yuan(journey.run_case.collected_fen) if journey.run_case else None,
        payout=s.PayoutRead(amount=format_yuan(payout.amount_fen), shortfall=format_yuan(payout.shortfall_fen),
                            paid_at=payout.paid_at, bank_reference=payout.bank_reference,
                            account_last_digits=payout.account_last_digits) if payout else None,
        receipt_url=f"/api/v1/claims/{claim.id}/receipt.pdf" if payout else None,
    )


@router.get("/{claim_id}/receipt.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the payout receipt"}},
            summary="The beneficiary's payout receipt as PDF (Chinese with English beside), once paid")
def claim_receipt(claim_id: ClaimId, session: SessionDep, account: CurrentAccount, now: NowDep,
                  platform: PlatformDep) -> Response:
    claim = claims.claim_for_reading(session, actor=account, claim_id=claim_id)
    receipt = receipt_of(session, plans=platform.plans, claim=claim, now=now)
    if receipt is None:
        raise NotFound(ReceiptError.NOT_PAID, claim=claim.claim_no)
    return Response(receipt_pdf(receipt), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="huzhu-receipt-{receipt.case_no}.pdf"'})


# ---------------------------------------------------------------- payee changes (four eyes)

ChangeId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/{claim_id}/payee-changes", response_model=Page[s.PayeeChangeRead], tags=["payee"],
            summary="The claim's proposed and decided changes of payee (reviewers, admins, auditors)")
def list_payee_changes(claim_id: ClaimId, request: Request, session: SessionDep, account: PayeeReader,
                       page: PageDep) -> Page[s.PayeeChangeRead]:
    claim = claims.claim_or_raise(session, claim_id)
    rows, cursor = page_of(session, select(PayeeChange).where(PayeeChange.claim_id == claim.id), PayeeChange.id,
                           page, key=lambda c: c.id, descending=False)
    record_staff_read(request, account, ReadSubject.PAYEE_CHANGE, (c.id for c in rows))
    return Page(items=[views.payee_change_read(c) for c in rows], next_cursor=cursor)


@router.post("/{claim_id}/payee-changes", status_code=201, response_model=s.PayeeChangeRead, tags=["payee"],
             summary="Propose a new payee with the reason (a reviewer or admin; a second one decides)")
def propose_payee_change(claim_id: ClaimId, body: s.PayeeChangeCreate, session: SessionDep, account: CurrentAccount,
                         now: NowDep) -> s.PayeeChangeRead:
    change = payee.propose(session, actor=account, claim_id=claim_id, beneficiary_name=body.beneficiary_name,
                           beneficiary_account=body.beneficiary_account, reason=body.reason, now=now)
    return views.payee_change_read(change)
