"""Public, anonymous read access: plans, cases in and after notice, runs, payouts, open data and
the tamper-evident public record. Nothing here returns a name, ID number, phone, bank account
or document: every response model is a ``*Public`` model without such fields."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy import select

from huzhu.api import schemas as s
from huzhu.api import views
from huzhu.api.pagination import Page, PageDep, decode_cursor, encode_cursor, page_of
from huzhu.api.schemas import MAX_ID
from huzhu.apportionment.bundle import run_rule_text
from huzhu.apportionment.errors import ApportionmentError
from huzhu.apportionment.forecast import expected_share
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.custody.models import CustodyInstruction, Reconciliation
from huzhu.errors import NotFound
from huzhu.exports import export, log_headers
from huzhu.http.deps import NowDep, PlatformDep, SessionDep
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus, Objection
from huzhu.notices.service import case_by_no, notice_facts
from huzhu.plans.errors import PlanError
from huzhu.reports import service as reports
from huzhu.transparency.models import PublicRecord
from huzhu.transparency.service import record_proof, tree_head

router = APIRouter(tags=["public"])
CaseNo = Annotated[str, Path(max_length=24, pattern=r"^[A-Za-z0-9_-]+$", examples=["HZ000001"])]


@router.get("/plans", response_model=Page[s.PlanPublic], summary="Plans and their rules")
def list_plans(platform: PlatformDep, page: PageDep) -> Page[s.PlanPublic]:
    codes = sorted(platform.plans)
    start = decode_cursor(page.cursor) or 0
    chunk = codes[start : start + page.limit]
    more = start + page.limit < len(codes)
    return Page(items=[views.plan_public(platform.plans[c]) for c in chunk],
                next_cursor=encode_cursor(start + page.limit) if more else None)


@router.get("/plans/{plan_code}", response_model=s.PlanPublic)
def get_plan(plan_code: Annotated[str, Path(max_length=40)], platform: PlatformDep) -> s.PlanPublic:
    plan = platform.plans.get(plan_code)
    if plan is None:
        raise NotFound(PlanError.UNKNOWN_PLAN, plan=repr(plan_code), plans=sorted(platform.plans))
    return views.plan_public(plan)


@router.get("/cases", response_model=Page[s.CasePublic], summary="Cases in public notice and after (anonymised)")
def list_cases(session: SessionDep, page: PageDep,
               status: Annotated[CaseStatus | None, Query()] = None) -> Page[s.CasePublic]:
    query = select(Case)
    if status is not None:
        query = query.where(Case.status == status)
    rows, cursor = page_of(session, query, Case.id, page, key=lambda c: c.id)
    return Page(items=views.cases_public(session, rows), next_cursor=cursor)


@router.get("/cases/{case_no}", response_model=s.CaseDetailPublic,
            summary="One case: anonymised facts, timeline, objections, money trail and payouts")
def get_case(case_no: CaseNo, session: SessionDep) -> s.CaseDetailPublic:
    return views.case_detail_public(session, case_by_no(session, case_no))


@router.get("/cases/{case_no}/notice", response_model=s.NoticeFactsPublic,
            summary="What an objector needs: join and in-force dates, place, documents checked (kinds), "
                    "the investigating firm, the expected share per member")
def case_notice(case_no: CaseNo, session: SessionDep, platform: PlatformDep, now: NowDep) -> s.NoticeFactsPublic:
    case = case_by_no(session, case_no)
    plan = platform.plans.get(case.plan_code)
    facts = notice_facts(session, plan=plan, case=case)
    expected = (expected_share(session, case=case, plan=plan, now=now)
                if plan is not None and case.status == CaseStatus.IN_NOTICE else None)
    return s.NoticeFactsPublic(
        case_no=case.case_no, joined_on=facts.joined_on, in_force_on=facts.in_force_on,
        incident_date=facts.incident_date, incident_place=facts.incident_place,
        investigation_company=facts.investigation_company,
        documents=[s.DocumentCountPublic(kind=kind, count=n) for kind, n in facts.documents],
        expected_share=s.ExpectedSharePublic(
            share_per_member=format_yuan(expected.share_fen), members_paying_one_fen_more=expected.plus_one_fen,
            sharing_members=expected.sharing_members, collected=format_yuan(expected.collected_fen),
            shortfall=format_yuan(expected.shortfall_fen), cap_per_member=format_yuan(expected.cap_fen),
            run_after=expected.run_after) if expected else None,
    )


@router.get("/cases/{case_no}/objections", response_model=Page[s.ObjectionPublic])
def case_objections(case_no: CaseNo, session: SessionDep, page: PageDep) -> Page[s.ObjectionPublic]:
    case = case_by_no(session, case_no)
    rows, cursor = page_of(session, select(Objection).where(Objection.case_id == case.id), Objection.id, page,
                           key=lambda o: o.id, descending=False)
    return Page(items=[views.objection_public(o, case.case_no) for o in rows], next_cursor=cursor)


@router.get("/payouts", response_model=Page[s.PayoutPublic], summary="Payouts to beneficiaries (no bank details)")
def list_payouts(session: SessionDep, page: PageDep) -> Page[s.PayoutPublic]:
    query = (select(CustodyInstruction, Case.case_no).join(Case, Case.id == CustodyInstruction.case_id)
             .where(CustodyInstruction.kind == "payout"))
    rows, cursor = page_of(session, query, CustodyInstruction.id, page, key=lambda r: r[0].id, scalars=False)
    return Page(items=[views.payout_public(session, i, no) for i, no in rows], next_cursor=cursor)


@router.get("/runs", response_model=Page[s.RunPublic], summary="Apportionment runs")
def list_runs(session: SessionDep, page: PageDep) -> Page[s.RunPublic]:
    rows, cursor = page_of(session, select(ApportionmentRun), ApportionmentRun.id, page, key=lambda r: r.id)
    return Page(items=[views.run_public(r) for r in rows], next_cursor=cursor)


@router.get("/runs/{run_no}", response_model=s.RunDetailPublic,
            summary="One run: per case the sharing members, the share each, totals and shortfall")
def get_run(run_no: Annotated[str, Path(max_length=24, pattern=r"^[A-Za-z0-9_-]+$", examples=["R000001"])],
            session: SessionDep) -> s.RunDetailPublic:
    run = session.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == run_no))
    if run is None:
        raise NotFound(ApportionmentError.NO_SUCH_RUN, run=run_no)
    cases = session.execute(select(RunCase, Case.case_no).join(Case, Case.id == RunCase.case_id)
                            .where(RunCase.run_id == run.id).order_by(RunCase.id)).all()
    return s.RunDetailPublic(**views.run_public(run).model_dump(), leftover_rule=run_rule_text(session, run.id),
                             cases=[views.run_case_public(rc, no) for rc, no in cases])


@router.get("/reconciliations", response_model=Page[s.ReconciliationPublic],
            summary="Results of reconciling the ledger with the custodian bank's statements")
def list_reconciliations(session: SessionDep, page: PageDep) -> Page[s.ReconciliationPublic]:
    rows, cursor = page_of(session, select(Reconciliation), Reconciliation.id, page, key=lambda r: r.id)
    return Page(items=[views.reconciliation_public(r) for r in rows], next_cursor=cursor)


@router.get("/exports/{dataset}", summary="Open data as CSV or JSON (no personal data)",
            response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                         "application/json": {"schema": {"type": "array",
                                                                         "items": {"type": "object"}}}},
                             "description": "the dataset; for `records`, exactly the leaves inside the served "
                                            "checkpoint, named by the headers",
                             "headers": {
                                 "Huzhu-Log-Tree-Size": {"description": "records: the checkpoint's tree size",
                                                         "schema": {"type": "integer"}},
                                 "Huzhu-Log-Root-Hash": {"description": "records: its root hash (hex)",
                                                         "schema": {"type": "string"}},
                                 "Huzhu-Log-Checkpoint": {"description": "records: the signed checkpoint with its "
                                                          "cosignatures, base64", "schema": {"type": "string"}}}}})
def export_dataset(dataset: Literal["cases", "runs", "records"], session: SessionDep,
                   format: Annotated[Literal["csv", "json"], Query()] = "json") -> Response:  # noqa: A002
    log_size, headers = log_headers(session) if dataset == "records" else (None, {})
    body = export(session, dataset, format, log_size=log_size)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'inline; filename="huzhu-{dataset}.{format}"', **headers})


@router.get("/report", response_model=s.PublicReport, summary="The operating report's figures (as on the home "
            "page and the report page)")
def get_report(platform: PlatformDep) -> s.PublicReport:
    stats = platform.cached_figure("stats", reports.public_stats)
    series = platform.cached_figure("series", reports.chart_series)
    books = platform.cached_figure("books", reports.report_books)
    return s.PublicReport(
        members=stats["members"], enrollments_in_force=stats["in_force"], enrollments_suspended=stats["suspended"],
        cases=stats["cases"], cases_in_notice=stats["in_notice"], aid_paid=format_yuan(stats["paid_fen"]),
        shortfall_published=format_yuan(stats["shortfall_fen"]), fees=format_yuan(stats["fees_fen"]),
        held_by_custodian=format_yuan(stats["custody_fen"]), runs=stats["runs"],
        members_per_plan={code: books["by_plan"].get(code, 0) for code in sorted(platform.plans)},
        members_over_time=[s.MonthCount(month=m, members=n) for m, n in series["members"]],
        aid_per_month=[s.MonthAmount(month=m, amount=format_yuan(v)) for m, v in series["aid"]],
        cost_per_member_per_run=[s.RunAmount(run_no=r, amount=format_yuan(v)) for r, v in series["per_member"]],
        tree_head=s.TreeHead(**books["head"]),
    )


@router.get("/transparency/tree-head", response_model=s.TreeHead, tags=["transparency"],
            summary="RFC 9162 tree head over every public record")
def get_tree_head(session: SessionDep) -> s.TreeHead:
    return s.TreeHead(**tree_head(session))


@router.get("/transparency/records", response_model=s.PublicRecordPage, tags=["transparency"],
            summary="Public records inside the latest signed checkpoint, with that checkpoint")
def list_records(session: SessionDep, page: PageDep) -> s.PublicRecordPage:
    head = tree_head(session)  # read first: every record listed is inside this checkpoint
    query = select(PublicRecord).where(PublicRecord.leaf_index < head["tree_size"])
    rows, cursor = page_of(session, query, PublicRecord.id, page, key=lambda r: r.id, descending=False)
    return s.PublicRecordPage(items=[s.PublicRecordRead(
        id=r.id, leaf_index=r.leaf_index, kind=r.kind, subject=r.subject, recorded_at=r.recorded_at,
        leaf_hash=r.leaf_hash, prev_hash=r.prev_hash, payload=r.payload) for r in rows], next_cursor=cursor, **head)


@router.get("/transparency/records/{record_id}/proof", response_model=s.RecordProof, tags=["transparency"],
            summary="Inclusion proof of one record in the current tree")
def get_record_proof(record_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep) -> s.RecordProof:
    return s.RecordProof(**record_proof(session, record_id))
