"""The caller's account, the members it manages, enrollments, top-ups, withdrawals and ledger history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from sqlalchemy import select

from huzhu.accounts.models import Role
from huzhu.api import schemas as s
from huzhu.api import views
from huzhu.api.auth import AccountRead
from huzhu.api.pagination import Page, PageDep, page_of
from huzhu.api.routes.public import CaseNo
from huzhu.api.schemas import MAX_ID
from huzhu.apportionment.models import ApportionmentRun
from huzhu.apportionment.service import member_share_proof
from huzhu.audit.models import ReadSubject
from huzhu.errors import Forbidden, NotFound
from huzhu.http.audit import record_staff_read
from huzhu.http.deps import CurrentAccount, NowDep, PlatformDep, SessionDep
from huzhu.http.idempotency import IdempotencyKey, engine_key, run_idempotent
from huzhu.ledger.models import Entry, Transfer
from huzhu.ledger.service import transfer_state
from huzhu.members import service as members
from huzhu.members.errors import MemberError
from huzhu.members.models import Enrollment, Member
from huzhu.money import format_yuan, parse_yuan
from huzhu.notices.models import Case
from huzhu.notices.service import case_by_no

router = APIRouter(tags=["members"])
MemberId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/me", response_model=AccountRead, summary="The logged-in account")
def me(account: CurrentAccount) -> AccountRead:
    return AccountRead.model_validate(account)


@router.get("/members", response_model=Page[s.MemberRead], summary="Members of my account (finance staff: all)")
def list_members(request: Request, session: SessionDep, account: CurrentAccount, page: PageDep) -> Page[s.MemberRead]:
    query = select(Member)
    if account.role == Role.MEMBER:
        query = query.where(Member.account_id == account.id)
    elif account.role not in members.FINANCE_ROLES:
        raise Forbidden(MemberError.ROLE_CANNOT_LIST, role=account.role)
    rows, cursor = page_of(session, query, Member.id, page, key=lambda m: m.id)
    record_staff_read(request, account, ReadSubject.MEMBER, (m.id for m in rows))
    return Page(items=[views.member_read(session, m) for m in rows], next_cursor=cursor)


@router.post("/members", status_code=201, response_model=s.MemberRead, summary="Add an insured person to my account")
def add_member(body: s.MemberCreate, session: SessionDep, account: CurrentAccount, now: NowDep) -> s.MemberRead:
    if account.role != Role.MEMBER:
        raise Forbidden(MemberError.ADDED_BY_MEMBERS)
    member = members.add_member(session, account_id=account.id, name=body.name, id_number=body.id_number,
                                relationship=body.relationship, now=now)
    return views.member_read(session, member)


@router.get("/members/{member_id}", response_model=s.MemberRead)
def get_member(member_id: MemberId, request: Request, session: SessionDep, account: CurrentAccount) -> s.MemberRead:
    member = members.member_for_reading(session, actor=account, member_id=member_id)
    record_staff_read(request, account, ReadSubject.MEMBER, [member.id])
    return views.member_read(session, member)


@router.get("/members/{member_id}/enrollments", response_model=Page[s.EnrollmentRead])
def list_enrollments(member_id: MemberId, request: Request, session: SessionDep, account: CurrentAccount,
                     now: NowDep, platform: PlatformDep, page: PageDep) -> Page[s.EnrollmentRead]:
    member = members.member_for_reading(session, actor=account, member_id=member_id)
    record_staff_read(request, account, ReadSubject.MEMBER, [member.id])
    rows, cursor = page_of(session, select(Enrollment).where(Enrollment.member_id == member.id), Enrollment.id, page,
                           key=lambda e: e.id)
    return Page(items=[views.enrollment_read(platform.plans, e, now) for e in rows], next_cursor=cursor)


@router.post("/members/{member_id}/enrollments", status_code=201, response_model=s.EnrollmentRead,
             summary="Join a plan (the deposit is paid into custody first)")
def join_plan(member_id: MemberId, body: s.EnrollmentCreate, request: Request, session: SessionDep,
              account: CurrentAccount, now: NowDep, platform: PlatformDep,
              idempotency_key: IdempotencyKey) -> s.EnrollmentRead:
    member = members.own_member(session, actor=account, member_id=member_id)

    def action() -> s.EnrollmentRead:
        enrollment = members.join_plan(
            session, platform.custodian, plans=platform.plans, member=member, plan_code=body.plan_code, now=now,
            idempotency_key=engine_key(account, idempotency_key, "join"), health_answers=body.health_answers,
        )
        return views.enrollment_read(platform.plans, enrollment, now)

    return run_idempotent(session, request, account=account, key=idempotency_key, body=body, now=now,
                          status_code=201, action=action)


@router.post("/enrollments/{enrollment_id}/leave", response_model=s.EnrollmentRead,
             summary="Leave a plan; leaving the last plan refunds the balance")
def leave_plan(enrollment_id: MemberId, body: s.LeaveRequest, request: Request, session: SessionDep,
               account: CurrentAccount, now: NowDep, platform: PlatformDep,
               idempotency_key: IdempotencyKey) -> s.EnrollmentRead:
    enrollment = members.own_enrollment(session, actor=account, enrollment_id=enrollment_id)

    def action() -> s.EnrollmentRead:
        left = members.leave_plan(session, platform.custodian, plans=platform.plans, enrollment=enrollment,
                                  bank_account=body.bank_account, now=now,
                                  idempotency_key=engine_key(account, idempotency_key, "leave"))
        return views.enrollment_read(platform.plans, left, now)

    return run_idempotent(session, request, account=account, key=idempotency_key, body=body, now=now,
                          status_code=200, action=action)


@router.post("/members/{member_id}/top-ups", status_code=201, response_model=s.BalanceRead,
             summary="Pay money into custody for a member; suspended cover resumes")
def top_up(member_id: MemberId, body: s.TopUpCreate, request: Request, session: SessionDep, account: CurrentAccount,
           now: NowDep, platform: PlatformDep, idempotency_key: IdempotencyKey) -> s.BalanceRead:
    member = members.own_member(session, actor=account, member_id=member_id)
    amount = parse_yuan(body.amount)

    def action() -> s.BalanceRead:
        resumed: list[int] = []
        # Keep the balance row it returns: the session's identity map holds rows only weakly.
        balance = members.top_up(session, platform.custodian, plans=platform.plans, member=member, amount_fen=amount,
                                 now=now, idempotency_key=engine_key(account, idempotency_key, "top-up"),
                                 resumed=resumed)
        return views.balance_read(session, member, sorted(resumed), account=balance)

    return run_idempotent(session, request, account=account, key=idempotency_key, body=body, now=now,
                          status_code=201, action=action)


@router.post("/members/{member_id}/withdrawals", status_code=201, response_model=s.WithdrawalRead,
             summary="Pay part of the balance back to the member's bank account")
def withdraw(member_id: MemberId, body: s.WithdrawalCreate, request: Request, session: SessionDep,
             account: CurrentAccount, now: NowDep, platform: PlatformDep,
             idempotency_key: IdempotencyKey) -> s.WithdrawalRead:
    member = members.own_member(session, actor=account, member_id=member_id)
    amount = parse_yuan(body.amount)

    def action() -> s.WithdrawalRead:
        state = members.withdraw(session, platform.custodian, plans=platform.plans, member=member, amount_fen=amount,
                                 bank_account=body.bank_account, now=now,
                                 idempotency_key=engine_key(account, idempotency_key, "withdraw"))
        balance = views.balance_read(session, member)
        return s.WithdrawalRead(member_id=member.id, amount=format_yuan(amount), state=state,
                                balance=balance.balance, available=balance.available)

    return run_idempotent(session, request, account=account, key=idempotency_key, body=body, now=now,
                          status_code=201, action=action)


@router.get("/members/{member_id}/ledger", response_model=Page[s.LedgerLine],
            summary="Money in and out of a member's balance, deductions with their case")
def member_ledger(member_id: MemberId, request: Request, session: SessionDep, account: CurrentAccount,
                  page: PageDep) -> Page[s.LedgerLine]:
    member = members.member_for_reading(session, actor=account, member_id=member_id)
    record_staff_read(request, account, ReadSubject.MEMBER_LEDGER, [member.id])
    query = (
        select(Entry, Transfer, Case.case_no, ApportionmentRun.run_no)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .outerjoin(Case, Case.id == Transfer.case_id)
        .outerjoin(ApportionmentRun, ApportionmentRun.id == Transfer.run_id)
        .where(Entry.account_id == member.ledger_account_id)
    )
    rows, cursor = page_of(session, query, Entry.id, page, key=lambda r: r[0].id, scalars=False)
    items = [
        s.LedgerLine(
            entry_id=entry.id, transfer_id=transfer.id, kind=transfer.kind,
            direction="in" if entry.direction == -1 else "out", amount=format_yuan(entry.amount),
            status=transfer_state(session, transfer), memo=transfer.memo, case_no=case_no, run_no=run_no,
            created_at=transfer.created_at,
        )
        for entry, transfer, case_no, run_no in rows
    ]
    return Page(items=items, next_cursor=cursor)


@router.get("/members/{member_id}/shares/{case_no}", response_model=s.ShareProof,
            summary="My share of a case with an inclusion proof against the published root")
def share_proof(member_id: MemberId, case_no: CaseNo, request: Request,
                session: SessionDep, account: CurrentAccount) -> s.ShareProof:
    member = members.member_for_reading(session, actor=account, member_id=member_id)
    record_staff_read(request, account, ReadSubject.MEMBER_LEDGER, [member.id])
    case = case_by_no(session, case_no)
    proof = member_share_proof(session, case=case, member_id=member.id)
    if proof is None:
        raise NotFound(MemberError.NO_SHARE, member=member.id, case=case_no)
    return s.ShareProof(**proof)
