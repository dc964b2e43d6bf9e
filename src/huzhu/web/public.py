"""Public pages (no login): the platform, plans, cases, runs, the operating report and open data."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from huzhu.apportionment.bundle import run_rule_version
from huzhu.apportionment.forecast import expected_share
from huzhu.apportionment.models import ApportionmentRun, RunCase
from huzhu.apportionment.shares import published_rule
from huzhu.claims.models import Claim, EvidenceKind
from huzhu.errors import NotFound
from huzhu.exports import DATASETS, export, log_headers
from huzhu.identity import province_for
from huzhu.members.models import Enrollment, EnrollmentStatus
from huzhu.money import format_yuan
from huzhu.notices.models import Case, CaseStatus, Objection, ObjectionStatus
from huzhu.notices.service import case_by_no, notice_facts
from huzhu.reports import service as reports
from huzhu.transparency.log import verified_records
from huzhu.transparency.models import PublicRecord
from huzhu.web.charts import bar_chart, line_chart
from huzhu.web.core import Ctx, PageNotFound, WebRoute, finish, page_ctx, redirect, render
from huzhu.web.i18n import LANG_COOKIE, fmt_date, money, normalise
from huzhu.web.words import label
from huzhu_verify.leftover import RULE_V2

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def plan_name(ctx: Ctx, plans: dict, code: str) -> str:
    plan = plans.get(code)
    if plan is None:
        return code
    return plan.name_zh if ctx.is_zh else plan.name_en


def benefit_name(ctx: Ctx, plans: dict, plan_code: str, benefit_code: str) -> str:
    plan = plans.get(plan_code)
    benefit = plan.benefit(benefit_code) if plan else None
    if benefit is None:
        return benefit_code
    return benefit.name_zh if ctx.is_zh else benefit.name_en


def case_view(ctx: Ctx, case: Case) -> dict[str, Any]:
    """The anonymised public facts of a case, labelled in the page's language."""
    plans = ctx.platform.plans
    province = province_for(case.province_code)
    benefit = benefit_name(ctx, plans, case.plan_code, case.benefit_code)
    # The stored summary is "<incident date> <benefit in Chinese> / <in English>" (notices.open_case):
    # the page shows the date with the benefit in its own language only.
    day, _, rest = (case.incident_summary or "").partition(" ")
    try:
        incident = f"{fmt_date(date.fromisoformat(day), ctx.locale)} {benefit}" if rest else case.incident_summary
    except ValueError:
        incident = case.incident_summary
    return {
        "case": case,
        "plan_name": plan_name(ctx, plans, case.plan_code),
        "benefit_name": benefit,
        "incident": incident,
        "gender": ctx._("female") if case.gender == "F" else ctx._("male"),
        "province": province.name_zh if ctx.is_zh else province.name_en,
    }


@router.get("/")
def home(request: Request) -> Response:
    ctx = page_ctx(request)
    stats = ctx.platform.cached_figure("stats", reports.public_stats)
    with ctx.platform.read_factory() as s:
        notice = [case_view(ctx, c) for c in s.scalars(
            select(Case).where(Case.status == CaseStatus.IN_NOTICE).order_by(Case.notice_ends_at).limit(5))]
    return render(ctx, "public/home.html", stats=stats, notice=notice, plans=list(ctx.platform.plans.values()))


@router.get("/lang/{code}")
def switch_language(request: Request, code: str) -> Response:
    ctx = page_ctx(request)
    chosen = normalise(code) or "zh_CN"
    ctx.extra_cookies[LANG_COOKIE] = chosen
    target = request.query_params.get("next") or "/"
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    return redirect(ctx, target)


@router.get("/plans")
def plans_page(request: Request) -> Response:
    ctx = page_ctx(request)
    return render(ctx, "public/plans.html", plans=list(ctx.platform.plans.values()))


@router.get("/plans/{code}")
def plan_page(request: Request, code: str) -> Response:
    ctx = page_ctx(request)
    plan = ctx.platform.plans.get(code)
    if plan is None:
        raise PageNotFound()
    with ctx.platform.read_factory() as s:
        members = s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.plan_code == code, Enrollment.status == EnrollmentStatus.ACTIVE)) or 0
    return render(ctx, "public/plan.html", plan=plan, members=members)


@router.get("/cases")
def cases_page(request: Request) -> Response:
    ctx = page_ctx(request)
    with ctx.platform.read_factory() as s:
        notice = [case_view(ctx, c) for c in s.scalars(
            select(Case).where(Case.status == CaseStatus.IN_NOTICE).order_by(Case.notice_ends_at, Case.id))]
        past = [case_view(ctx, c) for c in s.scalars(
            select(Case).where(Case.status != CaseStatus.IN_NOTICE).order_by(Case.id.desc()).limit(200))]
    return render(ctx, "public/cases.html", notice=notice, past=past)


PUBLIC_EVENT_KINDS = ("case_noticed", "objection_filed", "objection_dismissed", "objection_upheld", "case_shared",
                      "shares_root", "case_paid", "payout_rejected")


def case_or_404(s: Session, case_no: str) -> Case:
    """The case for a page address; an unknown number is the page-not-found page."""
    try:
        return case_by_no(s, case_no)
    except NotFound:
        raise PageNotFound() from None


@router.get("/cases/{case_no}")
def case_page(request: Request, case_no: str) -> Response:
    ctx = page_ctx(request)
    with ctx.platform.read_factory() as s:
        case = case_or_404(s, case_no)
        claim = s.get(Claim, case.claim_id)
        records = list(s.scalars(select(PublicRecord).where(PublicRecord.subject == case.case_no)
                                 .order_by(PublicRecord.leaf_index)))
        logged = verified_records(s, records)  # each shown record checked against the signed log
        run_case = s.scalar(select(RunCase).where(RunCase.case_id == case.id))
        run = s.get(ApportionmentRun, run_case.run_id) if run_case else None
        open_objections = s.scalar(select(func.count()).select_from(Objection).where(
            Objection.case_id == case.id, Objection.status == ObjectionStatus.OPEN)) or 0
        plan = ctx.platform.plans.get(case.plan_code)
        facts = notice_facts(s, plan=plan, case=case)
        expected = (expected_share(s, case=case, plan=plan, now=ctx.now)
                    if plan is not None and case.status == CaseStatus.IN_NOTICE else None)
    timeline = []
    if claim is not None:
        timeline.append({"at": claim.filed_at, "label": ctx._("Claim filed"), "detail": ""})
    for record in records:
        payload = json.loads(record.payload)
        timeline.append({"at": record.recorded_at, "label": record_label(ctx, record.kind),
                         "detail": record_detail(ctx, record.kind, payload), "leaf_hash": record.leaf_hash,
                         "logged": logged.get(record.leaf_index, False)})
    can_object = (case.status == CaseStatus.IN_NOTICE and ctx.now < case.notice_ends_at)
    documents = [{"kind": kind, "count": count, "label": label(ctx.locale, EvidenceKind(kind))}
                 for kind, count in facts.documents if kind in tuple(EvidenceKind)]
    return render(ctx, "public/case.html", v=case_view(ctx, case), timeline=timeline, run_case=run_case, run=run,
                  open_objections=open_objections, can_object=can_object, facts=facts, expected=expected,
                  documents=documents)


DOCUMENT_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 160" role="img" aria-label="{title}">
<title>{title}</title>
<rect x="1" y="1" width="118" height="158" rx="4" fill="#fff" stroke="#8b95a7" stroke-width="2"/>
<rect x="12" y="14" width="96" height="12" fill="#0b6e4f"/>
<g fill="#3b4252">{bars}</g>
<rect x="10" y="104" width="100" height="44" rx="4" fill="#ecfdf3" stroke="#067647"/>
<text x="60" y="122" font-size="{size}" text-anchor="middle" fill="#067647" font-family="sans-serif">{kind}</text>
<text x="60" y="139" font-size="9" text-anchor="middle" fill="#1d2330" font-family="sans-serif">{note}</text>
</svg>
"""


@router.get("/documents/{kind}.svg")
def document_placeholder(request: Request, kind: str) -> Response:
    """A generated stand-in for a verified document of this kind: its kind and redaction bars,
    never the document (which only staff and the family see)."""
    ctx = page_ctx(request)
    if kind not in tuple(EvidenceKind):
        raise PageNotFound()
    name = label(ctx.locale, EvidenceKind(kind))
    bars = "".join(f'<rect x="12" y="{34 + 12 * i}" width="{96 - (i % 3) * 18}" height="7"/>' for i in range(6))
    svg = DOCUMENT_SVG.format(title=escape(ctx._("%(kind)s, verified; contents not published", kind=name)),
                              kind=escape(name), note=escape(ctx._("verified · not published")), bars=bars,
                              size=11 if len(name) <= 8 else max(6, 88 // len(name)))
    return finish(ctx, Response(svg, media_type="image/svg+xml"))


def record_label(ctx: Ctx, kind: str) -> str:
    labels = {
        "case_noticed": ctx._("Approved after investigation and review; public notice begins"),
        "objection_filed": ctx._("A member objected"),
        "objection_dismissed": ctx._("Objection dismissed by a second reviewer"),
        "objection_upheld": ctx._("Objection upheld; the claim goes back to review"),
        "case_shared": ctx._("Shared among the members"),
        "shares_root": ctx._("Proof of every member's share published"),
        "case_paid": ctx._("Paid to the beneficiary by the custodian bank"),
        "payout_rejected": ctx._("The bank refused the payment; waiting for a corrected account"),
    }
    return labels.get(kind, kind)


def record_detail(ctx: Ctx, kind: str, payload: dict[str, Any]) -> str:
    if kind in ("objection_filed",):
        return payload.get("reason", "")
    if kind in ("objection_dismissed", "objection_upheld"):
        return payload.get("note", "")
    if kind == "case_shared":
        return ctx._("run %(run)s: %(members)s members, %(collected)s collected",
                     run=payload.get("run_no", ""), members=payload.get("paying_members", ""),
                     collected=payload.get("collected", ""))
    if kind == "case_paid":
        return ctx._("paid %(paid)s, shortfall %(shortfall)s", paid=payload.get("paid", ""),
                     shortfall=payload.get("shortfall", ""))
    if kind == "shares_root":
        return f"root {str(payload.get('root_hash', ''))[:16]}…"
    return ""


@router.get("/help")
def help_centre(request: Request) -> Response:
    """Questions members ask about the rules, money, claims, objections and privacy."""
    ctx = page_ctx(request)
    return render(ctx, "public/help.html", plans=list(ctx.platform.plans.values()))


@router.get("/runs")
def runs_page(request: Request) -> Response:
    ctx = page_ctx(request)
    with ctx.platform.read_factory() as s:
        runs = list(s.scalars(select(ApportionmentRun).order_by(ApportionmentRun.id.desc()).limit(200)))
    return render(ctx, "public/runs.html", runs=runs)


@router.get("/runs/{run_no}")
def run_page(request: Request, run_no: str) -> Response:
    ctx = page_ctx(request)
    with ctx.platform.read_factory() as s:
        run = s.scalar(select(ApportionmentRun).where(ApportionmentRun.run_no == run_no))
        if run is None:
            raise PageNotFound()
        rows = [(rc, case_view(ctx, case)) for rc, case in s.execute(
            select(RunCase, Case).join(Case, Case.id == RunCase.case_id).where(RunCase.run_id == run.id)
            .order_by(RunCase.id))]
        rule_version = run_rule_version(s, run.id)
    # The rule as published (English, in every run's public record), shown in the page's language.
    rule = ctx._(published_rule()) if rule_version == 1 else (RULE_V2.text_zh if ctx.is_zh else RULE_V2.text_en)
    return render(ctx, "public/run.html", run=run, rows=rows, leftover_rule=rule)


# ---------------------------------------------------------------- operating report and charts


@router.get("/report")
def report_page(request: Request) -> Response:
    ctx = page_ctx(request)
    stats = ctx.platform.cached_figure("stats", reports.public_stats)
    series = ctx.platform.cached_figure("series", reports.chart_series)
    books = ctx.platform.cached_figure("books", reports.report_books)
    reconciliations, head, by_plan = books["reconciliations"], books["head"], books["by_plan"]
    loc = ctx.locale
    charts = {
        "members": line_chart(series["members"], title=ctx._("Members over time"),
                              desc=ctx._("Members who have joined a plan, by month")),
        "aid": bar_chart([(k, v / 100) for k, v in series["aid"]], title=ctx._("Aid paid per month (yuan)"),
                         desc=ctx._("Money paid to beneficiaries each month"),
                         fmt=lambda v: money(int(round(v * 100)), loc, unit=False)),
        "per_member": bar_chart([(k, v / 100) for k, v in series["per_member"]],
                                title=ctx._("Average cost per member per run (yuan)"),
                                desc=ctx._("Money collected in a run divided by the members who paid"),
                                fmt=lambda v: money(int(round(v * 100)), loc, unit=False)),
    }
    plans = [(plan, by_plan.get(plan.code, 0)) for plan in ctx.platform.plans.values()]
    return render(ctx, "public/report.html", stats=stats, series=series, charts=charts,
                  reconciliations=reconciliations, head=head, plans=plans)


@router.get("/open-data")
def open_data_page(request: Request) -> Response:
    ctx = page_ctx(request)
    return render(ctx, "public/open_data.html", datasets=DATASETS)


@router.get("/open-data/{name}")
def open_data_file(request: Request, name: str) -> Response:
    ctx = page_ctx(request)
    dataset, _, fmt = name.partition(".")
    if dataset not in DATASETS or fmt not in ("csv", "json"):
        raise PageNotFound()
    with ctx.platform.read_factory() as s:
        log_size, headers = log_headers(s) if dataset == "records" else (None, {})
        body = export(s, dataset, fmt, log_size=log_size)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="huzhu-{dataset}.{fmt}"', **headers})
    return finish(ctx, response)


__all__ = ["router", "case_view", "plan_name", "benefit_name", "format_yuan"]
