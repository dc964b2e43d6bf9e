"""Every fen provable over HTTP: each run's published inputs (a JSON index and one run file per
case), the daily liabilities check against the custodian's cash, and a member's own proofs (their
share leaf and their balance leaf with the secret that salts them: only for the member's own account)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from sqlalchemy import select

from huzhu.api.routes.public import CaseNo
from huzhu.api.schemas import MAX_ID
from huzhu.apportionment.bundle import run_inputs
from huzhu.apportionment.errors import ApportionmentError
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.errors import Forbidden, NotFound
from huzhu.http.deps import CurrentAccount, SessionDep
from huzhu.members import service as members
from huzhu.members.errors import MemberError
from huzhu.notices.service import case_by_no
from huzhu.provable import service as provable
from huzhu.provable.errors import ProvableError
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import tree_head

router = APIRouter(tags=["public"])
member_router = APIRouter(tags=["members"])
RunNo = Annotated[str, Path(max_length=24, pattern=r"^[A-Za-z0-9_-]+$", examples=["R000001"])]
MemberId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _run(session: SessionDep, run_no: str) -> ApportionmentRun:
    run = session.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == run_no))
    if run is None:
        raise NotFound(ApportionmentError.NO_SUCH_RUN, run=run_no)
    return run


@router.get("/runs/{run_no}/inputs", response_model=dict[str, Any],
            summary="What it takes to recompute a run: per case the rule, the share tree's root and its run file")
def get_run_inputs(run_no: RunNo, session: SessionDep) -> dict[str, Any]:
    run = _run(session, run_no)
    head = tree_head(session)  # the rules listed are the log's records inside this signed checkpoint
    rules = [json.loads(p) for p in session.scalars(select(PublicRecord.payload).where(
        PublicRecord.kind == provable.RULE_RECORD, PublicRecord.leaf_index < head["tree_size"])
        .order_by(PublicRecord.leaf_index))]
    cases = run_inputs(session, run.id)
    for case in cases:
        if "root" in case:
            case["inputs_url"] = f"/api/v1/runs/{run_no}/cases/{case['case_no']}/inputs"
    return {"run_no": run_no, "format": "huzhu-run-inputs/1", "leftover_rules": rules, "cases": cases,
            "log": head}


@router.get("/runs/{run_no}/cases/{case_no}/inputs", summary="A case's run file (huzhu-run-inputs/1, TAB-separated)",
            response_class=FileResponse, responses={200: {"content": {"text/tab-separated-values": {}}}})
def get_case_inputs(run_no: RunNo, case_no: CaseNo, session: SessionDep) -> FileResponse:
    run = _run(session, run_no)
    case = case_by_no(session, case_no)
    if session.scalar(select(RunCase.id).where(RunCase.run_id == run.id, RunCase.case_id == case.id)) is None:
        raise NotFound(ProvableError.NOT_SHARED_IN_RUN, case=case_no, run=run_no)
    path = provable.inputs_path(session, case_no)
    if path is None:
        raise NotFound(ProvableError.NO_RUN_FILE, case=case_no)
    return FileResponse(path, media_type="text/tab-separated-values; charset=utf-8",
                        filename=f"{run_no}-{case_no}-inputs.tsv")


@router.get("/liabilities", response_model=dict[str, Any],
            summary="The latest liabilities tree's sum against the custodian's attested cash, difference included")
def get_liabilities(session: SessionDep) -> dict[str, Any]:
    check = provable.liabilities_check(session)
    if check is None:
        raise NotFound(ProvableError.NO_LIABILITIES)
    return check


def _own_member(session: SessionDep, account: CurrentAccount, member_id: int):  # noqa: ANN202
    member = members.member_for_reading(session, actor=account, member_id=member_id)
    if member.account_id != account.id:
        raise Forbidden(MemberError.OWN_ACCOUNT_ONLY)
    return member


@member_router.get("/members/{member_id}/proofs/shares/{case_no}", response_model=dict[str, Any],
                   summary="My share leaf of a case with its Merkle-sum proof and my secret (my account only)")
def my_share_proof(member_id: MemberId, case_no: CaseNo, session: SessionDep, account: CurrentAccount) -> dict[str, Any]:
    member = _own_member(session, account, member_id)
    case = case_by_no(session, case_no)
    rc = session.scalar(select(RunCase).where(RunCase.case_id == case.id))
    doc = None if rc is None else provable.member_share_document(session, member=member, case=case, run_case=rc)
    if doc is None:
        raise NotFound(MemberError.NO_SHARE, member=member.id, case=case_no)
    return doc


@member_router.get("/members/{member_id}/proofs/balance", response_model=dict[str, Any],
                   summary="My balance leaf in the latest liabilities tree with its proof and my secret (my account only)")
def my_balance_proof(member_id: MemberId, session: SessionDep, account: CurrentAccount) -> dict[str, Any]:
    member = _own_member(session, account, member_id)
    doc = provable.member_balance_document(session, member=member)
    if doc is None:
        raise NotFound(ProvableError.NO_BALANCE_LEAF, member=member.id)
    return doc
