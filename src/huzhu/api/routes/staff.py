"""Objections (members file, a different reviewer resolves), apportionment runs, ledger check, sandbox clock."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from huzhu.accounts.models import Account, Role
from huzhu.api import schemas as s
from huzhu.api import views
from huzhu.api.pagination import Page, PageDep, page_of
from huzhu.api.routes.public import CaseNo
from huzhu.api.schemas import MAX_ID
from huzhu.audit import service as audit
from huzhu.audit.models import PersonalDataRead, ReadSubject
from huzhu.banking.jobs import run_jobs_with_bank
from huzhu.casework import payee
from huzhu.casework import service as casework
from huzhu.http.audit import record_staff_read
from huzhu.http.deps import AdminAccount, CurrentAccount, NowDep, PlatformDep, SessionDep, require_role
from huzhu.http.idempotency import IdempotencyKey, run_idempotent
from huzhu.ledger.invariants import check_ledger
from huzhu.notices import service as notices
from huzhu.notices.models import Case, Objection, ObjectionStatus
from huzhu.notices.service import case_by_no
from huzhu.transparency.log import issue_receipt
from huzhu.transparency.service import verify_chain

router = APIRouter()
sandbox_router = APIRouter(prefix="/sandbox", tags=["sandbox"])
FinanceAccount = Annotated[Account, Depends(require_role(Role.ADMIN, Role.AUDITOR))]
AuditorAccount = Annotated[Account, Depends(require_role(Role.AUDITOR))]
ReviewerOrAdmin = Annotated[Account, Depends(require_role(Role.REVIEWER, Role.ADMIN))]


@router.post("/cases/{case_no}/objections", status_code=201, response_model=s.ObjectionRead, tags=["objections"],
             summary="Object to a case in public notice (members in a plan)")
def file_objection(case_no: CaseNo, body: s.ObjectionCreate, session: SessionDep, account: CurrentAccount,
                   now: NowDep) -> s.ObjectionRead:
    case = case_by_no(session, case_no)
    objection = notices.file_objection(session, actor=account, case_id=case.id, member_id=body.member_id,
                                       reason=body.reason, now=now)
    read = views.objection_read(objection, case.case_no)
    read.receipt = issue_receipt(session, kind="objection_filed", subject=case.case_no, now=now)
    return read


@router.get("/objections", response_model=Page[s.ObjectionRead], tags=["objections"],
            summary="Objections to resolve (reviewers, admins)")
def list_objections(request: Request, session: SessionDep, account: ReviewerOrAdmin, page: PageDep,
                    status: Annotated[ObjectionStatus | None, Query()] = None,
                    ) -> Page[s.ObjectionRead]:
    query = select(Objection, Case.case_no).join(Case, Case.id == Objection.case_id)
    if status is not None:
        query = query.where(Objection.status == status)
    rows, cursor = page_of(session, query, Objection.id, page, key=lambda r: r[0].id, scalars=False)
    record_staff_read(request, account, ReadSubject.OBJECTION, (o.id for o, _no in rows))
    return Page(items=[views.objection_read(o, no) for o, no in rows], next_cursor=cursor)


@router.post("/objections/{objection_id}/resolution", response_model=s.ObjectionRead, tags=["objections"],
             summary="Uphold (the claim goes back to review) or dismiss an objection (a different reviewer)")
def resolve_objection(objection_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: s.ResolutionCreate,
                      session: SessionDep, account: CurrentAccount, now: NowDep) -> s.ObjectionRead:
    objection = casework.resolve_objection(session, actor=account, objection_id=objection_id, upheld=body.upheld,
                                          note=body.note, now=now)
    case = session.get(Case, objection.case_id)
    assert case is not None
    return views.objection_read(objection, case.case_no)


@router.post("/payee-changes/{change_id}/decision", response_model=s.PayeeChangeRead, tags=["payee"],
             summary="Approve (the claim's payee changes) or reject a proposed change of payee: a reviewer or "
                     "admin other than the one who proposed it (four eyes)")
def decide_payee_change(change_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: s.PayeeChangeDecision,
                        session: SessionDep, account: CurrentAccount, now: NowDep) -> s.PayeeChangeRead:
    change = payee.decide(session, actor=account, change_id=change_id, approve=body.approve, note=body.note, now=now)
    return views.payee_change_read(change)


@router.get("/audit/reads", response_model=Page[s.PersonalDataReadRead], tags=["audit"],
            summary="Every staff read of evidence or personal data, newest first (auditors)")
def list_reads(session: SessionDep, account: AuditorAccount, page: PageDep,
               account_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this staff account's")] = None,
               subject: Annotated[ReadSubject | None, Query()] = None) -> Page[s.PersonalDataReadRead]:
    query = audit.reads_query(account_id=account_id, subject=subject)
    rows, cursor = page_of(session, query, PersonalDataRead.id, page, key=lambda r: r.id)
    return Page(items=[s.PersonalDataReadRead.model_validate(r, from_attributes=True) for r in rows],
                next_cursor=cursor)


@router.post("/runs", response_model=s.JobReportRead, tags=["runs"],
             summary="Run the job now: share every due case, pay out, publish proofs, reconcile (admin)")
def trigger_run(request: Request, session: SessionDep, account: AdminAccount, now: NowDep, platform: PlatformDep,
                idempotency_key: IdempotencyKey) -> s.JobReportRead:
    def action() -> s.JobReportRead:
        report, bank = run_jobs_with_bank(platform.factory, plans=platform.plans, custodian=platform.custodian,
                                          connector=platform.bank.connector if platform.bank is not None else None,
                                          now=now, actor_id=account.id)
        return s.JobReportRead(run_no=report.run_no, cases_shared=report.cases_shared, cases_paid=report.cases_paid,
                               roots_published=report.roots_published,
                               reconciliation_matched=report.reconciliation_matched,
                               bank_sync=None if bank is None else s.BankSyncRead(
                                   payments_sent=bank.sent, messages_read=bank.notifications,
                                   deposits_booked=bank.deposits_booked, statements=bank.statements,
                                   exceptions_waiting=bank.exceptions_waiting, error=bank.error))

    # The job commits its own steps; end this request's transaction first (SQLite has one writer).
    return run_idempotent(session, request, account=account, key=idempotency_key, body={}, now=now, status_code=200,
                          action=action, before_action=session.commit)


@router.get("/ledger/check", response_model=s.LedgerCheck, tags=["ledger"],
            summary="Check every ledger invariant and the public record chain (admins, auditors)")
def ledger_check(session: SessionDep, account: FinanceAccount, now: NowDep) -> s.LedgerCheck:
    violations = check_ledger(session)
    chain = verify_chain(session)
    return s.LedgerCheck(ok=not violations and not chain, checked_at=now,
                         violations=[s.Violation(invariant=v.invariant, message=v.message) for v in violations],
                         public_record_problems=chain)


@sandbox_router.get("/clock", response_model=s.ClockRead, summary="The sandbox clock (admin)")
def get_clock(account: AdminAccount, now: NowDep, platform: PlatformDep) -> s.ClockRead:
    return s.ClockRead(now=now, mode=platform.settings.mode)


@sandbox_router.post("/clock", response_model=s.ClockRead,
                     summary="Move the sandbox clock forward: {\"advance\": \"P7D\"} or {\"to\": \"…\"} (admin)")
def set_clock(body: s.ClockUpdate, session: SessionDep, account: AdminAccount, now: NowDep,
              platform: PlatformDep) -> s.ClockRead:
    target = body.to if body.to is not None else now + body.advance  # type: ignore[operator]
    target = target.astimezone(UTC)
    session.commit()  # release this request's transaction before the clock writes (SQLite has one writer)
    platform.clock.set(target)  # type: ignore[attr-defined]
    return s.ClockRead(now=platform.clock.now(), mode=platform.settings.mode)
