"""The custodian bank's side of the API: a member's bank reference, and the custody exceptions queue
(proposed by one staff member, approved by another)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from huzhu.accounts.models import Account, Role
from huzhu.banking import exceptions as queue
from huzhu.banking.sync import open_reference, reference_of
from huzhu.custody.bank_client import BankError
from huzhu.custody.bank_models import CustodyException
from huzhu.custody.errors import BankUnavailable, CustodyError
from huzhu.errors import Conflict
from huzhu.http.deps import CurrentAccount, NowDep, PlatformDep, SessionDep, require_role
from huzhu.http.text import FreeText, Line, RequestBody
from huzhu.members import service as members
from huzhu.members.errors import MemberError
from huzhu.money import format_yuan

router = APIRouter(tags=["custody"])
StaffReader = Annotated[Account, Depends(require_role(Role.ADMIN, Role.REVIEWER, Role.AUDITOR))]
Decider = Annotated[Account, Depends(require_role(Role.ADMIN, Role.REVIEWER))]
ExceptionId = Annotated[int, Path(ge=1, le=2**53)]


class BankReferenceRead(BaseModel):
    member_id: int
    reference: str = Field(description="quote it in the transfer's remittance information")
    virtual_account: str | None = Field(description="the member's virtual sub-account on the pool account")
    pool_account: str


class CustodyExceptionRead(BaseModel):
    id: int
    kind: str
    subject: str
    amount: str = Field(description="yuan as a decimal string")
    detail: str
    status: Literal["open", "proposed", "resolved"]
    raised_at: datetime
    resolution: str | None
    resolution_target: str | None
    resolution_note: str | None
    proposed_by: int | None
    approved_by: int | None
    allowed_resolutions: list[str]


class ProposalIn(RequestBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"resolution": "book_to_member", "target": "123", "note": "the member quoted an old reference"}]})

    resolution: Literal["book_to_member", "reinstruct", "acknowledge"]
    target: Line = Field(default="", max_length=80, description="member number (book_to_member) or corrected "
                                                                "bank account (reinstruct)")
    note: FreeText = Field(default="", max_length=2000)


def exception_read(row: CustodyException) -> CustodyExceptionRead:
    return CustodyExceptionRead(
        id=row.id, kind=row.kind, subject=row.subject, amount=format_yuan(row.amount_fen), detail=row.detail,
        status=row.status, raised_at=row.raised_at, resolution=row.resolution,
        resolution_target=row.resolution_target, resolution_note=row.resolution_note,
        proposed_by=row.proposed_by_account_id, approved_by=row.approved_by_account_id,
        allowed_resolutions=list(queue.allowed_resolutions(row.kind)))


@router.get("/members/{member_id}/bank-reference", response_model=BankReferenceRead,
            summary="Where a member pays in: their reference and virtual sub-account")
def bank_reference(member_id: Annotated[int, Path(ge=1, le=2**53)], session: SessionDep, account: CurrentAccount,
                   platform: PlatformDep) -> BankReferenceRead:
    member = members.own_member(session, actor=account, member_id=member_id)
    ref = reference_of(session, member.id)
    if ref is None:
        raise Conflict(MemberError.BANK_REFERENCE_PENDING)
    return BankReferenceRead(member_id=member.id, reference=ref.reference, virtual_account=ref.virtual_account,
                             pool_account=getattr(platform.custodian, "account_number", ""))


@router.post("/members/{member_id}/bank-reference", response_model=BankReferenceRead,
             summary="Open a member's virtual sub-account at the custodian bank (idempotent)")
def open_bank_reference(member_id: Annotated[int, Path(ge=1, le=2**53)], session: SessionDep,
                        account: CurrentAccount, platform: PlatformDep, now: NowDep) -> BankReferenceRead:
    """The reading (GET) never opens anything; this does, once: a repeat answers the same account.
    409 without a custodian bank; 503 when the bank does not answer (nothing kept: try again)."""
    if platform.bank is None:
        raise Conflict(CustodyError.NO_BANK)
    member = members.own_member(session, actor=account, member_id=member_id)
    try:
        ref = open_reference(session, platform.bank.connector, member_id=member.id, now=now)
    except BankError as exc:
        raise BankUnavailable(CustodyError.BANK_UNREACHABLE) from exc
    return BankReferenceRead(member_id=member.id, reference=ref.reference, virtual_account=ref.virtual_account,
                             pool_account=getattr(platform.custodian, "account_number", ""))


@router.get("/custody/exceptions", response_model=list[CustodyExceptionRead],
            summary="The custody exceptions queue (staff)")
def list_exceptions(session: SessionDep, _account: StaffReader,
                    status: Annotated[Literal["open", "proposed", "resolved", "unresolved"] | None,
                                      Query()] = "unresolved") -> list[CustodyExceptionRead]:
    return [exception_read(r) for r in queue.list_exceptions(session, status=status)]


@router.post("/custody/exceptions/{exception_id}/proposal", response_model=CustodyExceptionRead,
             summary="Propose how to resolve a custody exception (another staff member approves)")
def propose(exception_id: ExceptionId, body: ProposalIn, session: SessionDep, account: Decider,
            now: NowDep) -> CustodyExceptionRead:
    return exception_read(queue.propose(session, exception_id=exception_id, actor=account,
                                        resolution=body.resolution, target=body.target, note=body.note, now=now))


@router.post("/custody/exceptions/{exception_id}/approval", response_model=CustodyExceptionRead,
             summary="Approve another staff member's proposal; it is carried out at once")
def approve(exception_id: ExceptionId, session: SessionDep, account: Decider, now: NowDep,
            platform: PlatformDep) -> CustodyExceptionRead:
    return exception_read(queue.approve(session, exception_id=exception_id, actor=account,
                                        custodian=platform.custodian, now=now, plans=platform.plans))


@router.post("/custody/exceptions/{exception_id}/turn-down", response_model=CustodyExceptionRead,
             summary="Turn down another staff member's proposal: the exception is open again")
def turn_down(exception_id: ExceptionId, session: SessionDep, account: Decider, now: NowDep) -> CustodyExceptionRead:
    return exception_read(queue.turn_down(session, exception_id=exception_id, actor=account, now=now))


__all__ = ["router"]
