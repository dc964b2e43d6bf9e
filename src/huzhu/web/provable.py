"""The member's own check, in their browser: their balance leaf in the day's liabilities tree and
their share leaves of rule-2 cases, verified by ``sumproof.js`` (WebCrypto) against the roots the
public API publishes. The documents (with the member's secret) are served to the member only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import JSONResponse, Response

from huzhu.accounts.models import Role
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.ledger.models import Entry
from huzhu.members import service as members
from huzhu.members.models import Member
from huzhu.money import format_yuan
from huzhu.notices.models import Case
from huzhu.provable import service as provable
from huzhu.provable.models import SumTree
from huzhu.web.core import PageNotFound, WebRoute, page_ctx, render, require

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _checked_shares(s: Any, member: Member, limit: int = 10) -> list[dict[str, Any]]:
    """The member's latest shares of cases with a share tree (rule 2)."""
    rows = s.execute(
        select(Case.case_no, ApportionmentRun.run_no, Entry.amount)
        .join(RunCase, RunCase.case_id == Case.id).join(ApportionmentRun, ApportionmentRun.id == RunCase.run_id)
        .join(SumTree, (SumTree.run_case_id == RunCase.id) & (SumTree.kind == "share"))
        .join(Entry, (Entry.transfer_id == RunCase.transfer_id) & (Entry.account_id == member.ledger_account_id))
        .where(Entry.direction == 1).order_by(RunCase.id.desc()).limit(limit)).all()
    return [{"case_no": c, "run_no": r, "amount": format_yuan(int(a))} for c, r, a in rows]


@router.get("/liabilities")
def liabilities_page(request: Request) -> Response:
    """Public: the latest liabilities tree's sum against the custodian's cash, the difference shown."""
    ctx = page_ctx(request)
    with ctx.platform.read_factory() as s:
        check = provable.liabilities_check(s)
    return render(ctx, "public/liabilities.html", check=check)


@router.get("/me/members/{member_id:int}/verify")
def verify_page(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        shares = _checked_shares(s, member)
        has_balance = provable.latest_liabilities(s) is not None
    return render(ctx, "member/verify.html", m=member, shares=shares, has_balance=has_balance)


@router.get("/me/members/{member_id:int}/verify/balance.json")
def balance_document(request: Request, member_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        doc = provable.member_balance_document(s, member=member)
    if doc is None:
        raise PageNotFound()
    return JSONResponse(doc, headers={"Cache-Control": "no-store"})


@router.get("/me/members/{member_id:int}/verify/shares/{case_no}.json")
def share_document(request: Request, member_id: int, case_no: str) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, Role.MEMBER)
    with ctx.platform.read_factory() as s:
        member = members.own_member(s, actor=account, member_id=member_id)
        case = s.scalar(select(Case).where(Case.case_no == case_no))
        rc = None if case is None else s.scalar(select(RunCase).where(RunCase.case_id == case.id))
        doc = (None if case is None or rc is None
               else provable.member_share_document(s, member=member, case=case, run_case=rc))
    if doc is None:
        raise PageNotFound()
    return JSONResponse(doc, headers={"Cache-Control": "no-store"})
