"""Staff pages: the investigator queue and report form, the reviewer workbench with every rule check,
the objections queue, and the admin desk (run the jobs, ledger check, plans, staff, sandbox clock)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, Response

from huzhu.accounts.models import Account
from huzhu.casework import service as casework
from huzhu.claims import service as claims
from huzhu.claims.evidence import open_evidence
from huzhu.claims.models import Claim, ReviewDecision
from huzhu.clock import CHINA_TZ
from huzhu.errors import DomainError, InvalidInput, NotFound
from huzhu.jobs import JobReport, run_jobs
from huzhu.ledger.invariants import check_ledger
from huzhu.members.models import Enrollment, Member
from huzhu.notices import service as notices
from huzhu.notices.models import Case, Objection
from huzhu.plans.rules import RuleCheck, age_on
from huzhu.web.core import (
    Ctx,
    PageNotFound,
    WebRoute,
    domain_message,
    finish,
    form_data,
    page_ctx,
    redirect,
    render,
    require,
)
from huzhu.web.i18n import N_
from huzhu.web.member import claim_details, facts_from_form, field, parse_day
from huzhu.web.public import benefit_name, case_view, plan_name

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger("huzhu.web")

STAFF = ("investigator", "reviewer", "admin", "auditor")


@router.get("/staff")
def staff_home(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, *STAFF)
    target = {"investigator": "/staff/investigations", "reviewer": "/staff/reviews", "admin": "/admin"}
    if account.role in target:
        return redirect(ctx, target[account.role])
    return redirect(ctx, "/report")


def claim_row(ctx: Ctx, s: Session, claim: Claim) -> dict[str, Any]:
    member = s.get(Member, claim.member_id)
    return {"c": claim, "member": member, "age": age_on(member.birth_date, claim.incident_date) if member else None,
            "plan_name": plan_name(ctx, ctx.platform.plans, claim.plan_code),
            "benefit_name": benefit_name(ctx, ctx.platform.plans, claim.plan_code, claim.benefit_code)}


# ---------------------------------------------------------------- investigators


@router.get("/staff/investigations")
def investigations(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "investigator")
    with ctx.platform.read_factory() as s:
        rows = [claim_row(ctx, s, c) for c in s.scalars(
            select(Claim).where(or_(Claim.status == "submitted",
                                    (Claim.status == "investigating") & (Claim.investigator_account_id == account.id)))
            .order_by(Claim.filed_at, Claim.id))]
    return render(ctx, "staff/investigations.html", rows=rows)


@router.post("/staff/claims/{claim_id:int}/start")
def start_investigation(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "investigator")
    with ctx.platform.session() as s:
        claims.start_investigation(s, actor=s.get(Account, account.id), claim_id=claim_id, now=ctx.now)
    return redirect(ctx, f"/staff/claims/{claim_id}/report")


@router.get("/staff/claims/{claim_id:int}/report")
def report_form(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    require(ctx, "investigator")
    with ctx.platform.read_factory() as s:
        details = claim_details(ctx, s, claims.claim_or_raise(s, claim_id))
    return render(ctx, "staff/report.html", d=details, form={}, error="")


@router.post("/staff/claims/{claim_id:int}/report")
def submit_report(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "investigator")
    form = form_data(request)
    values = {k: field(form, k) for k in ("company", "summary", "confirmed_incident_date", "disability_grades", "loss",
                                          "fault_share_percent", "insurance_paid")}
    try:
        with ctx.platform.session() as s:
            claims.submit_report(s, actor=s.get(Account, account.id), claim_id=claim_id, company=values["company"],
                                 summary=values["summary"], now=ctx.now, facts=facts_from_form(form),
                                 confirmed_incident_date=parse_day(values["confirmed_incident_date"],
                                                                   "confirmed incident date"))
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            details = claim_details(ctx, s, claims.claim_or_raise(s, claim_id))
        return render(ctx, "staff/report.html", status_code=exc.status_code, d=details, form=values,
                      error=domain_message(ctx, exc))
    return redirect(ctx, "/staff/investigations?done=1")


@router.get("/staff/evidence/{evidence_id:int}")
def evidence_file(request: Request, evidence_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "investigator", "reviewer", "admin")
    try:
        with ctx.platform.read_factory() as s:
            evidence, path = open_evidence(s, ctx.platform.evidence, actor=s.get(Account, account.id),
                                           evidence_id=evidence_id)
    except NotFound:
        raise PageNotFound() from None
    response = FileResponse(path, media_type=evidence.content_type, headers={"Content-Disposition": "inline"})
    return finish(ctx, response)


# ---------------------------------------------------------------- reviewers


@router.get("/staff/reviews")
def reviews(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, "reviewer")
    with ctx.platform.read_factory() as s:
        rows = [claim_row(ctx, s, c) for c in s.scalars(
            select(Claim).where(Claim.status == "reviewing").order_by(Claim.updated_at, Claim.id))]
        decided = [claim_row(ctx, s, c) for c in s.scalars(
            select(Claim).where(Claim.status.in_(("approved", "rejected"))).order_by(Claim.updated_at.desc()).limit(20))]
    return render(ctx, "staff/reviews.html", rows=rows, decided=decided)


def workbench(ctx: Ctx, s: Session, claim_id: int) -> dict[str, Any]:
    claim = claims.claim_or_raise(s, claim_id)
    details = claim_details(ctx, s, claim)
    evaluation = claims.evaluate(s, plans=ctx.platform.plans, claim=claim) if claim.status == "reviewing" else None
    # A decided claim shows each decision with the rule checks as they were recorded at the time.
    decisions = [{"decision": d, "checks": [RuleCheck(**c) for c in d.checks]} for d in s.scalars(
        select(ReviewDecision).where(ReviewDecision.claim_id == claim.id).order_by(ReviewDecision.id))]
    return {"d": details, "evaluation": evaluation, "decisions": decisions, "row": claim_row(ctx, s, claim),
            "check_text": lambda check: check_text(ctx, check)}


def check_text(ctx: Ctx, check: RuleCheck) -> str:
    """A rule check's finding in the page's language (the engine's own ``detail`` is English)."""
    p = check.params
    if check.code == "benefit_covered" and check.passed and p:
        return ctx._("Plan %(plan)s v%(version)s covers %(benefit)s.") % {
            "plan": plan_title(ctx, p["plan"]), "version": p["version"],
            "benefit": p["benefit_zh"] if ctx.is_zh else p["benefit_en"]}
    if check.code == "enrollment_active" and p:
        day = format_day(ctx, p["incident_date"])
        return (ctx._("The member was covered for the whole of %(day)s.") if check.passed else
                ctx._("The member was not covered on %(day)s (suspended, left or not joined).")) % {"day": day}
    if check.code == "in_force" and p:
        return ctx._("Incident on %(incident)s; cover in force from %(start)s (joined or resumed %(anchor)s, "
                     "%(days)s waiting days).") % {
            "incident": format_day(ctx, p["incident_date"]), "start": format_day(ctx, p["in_force_date"]),
            "anchor": format_day(ctx, p["coverage_anchor"]), "days": p["waiting_days"]}
    if check.code == "facts_complete" and check.passed:
        return ctx._("All facts the rule needs are present and valid.")
    return check.detail  # the formula (numbers) or a refusal reason as the engine wrote it


def plan_title(ctx: Ctx, code: str) -> str:
    plan = ctx.platform.plans.get(code)
    return (plan.name_zh if ctx.is_zh else plan.name_en) if plan else code


def format_day(ctx: Ctx, iso: str) -> str:
    return format_date(date.fromisoformat(iso), format="long", locale=ctx.locale)


CHECK_LABELS = {
    "benefit_covered": N_("The plan covers this aid"),
    "enrollment_active": N_("The member was covered on the incident date"),
    "in_force": N_("The waiting period was over"),
    "facts_complete": N_("The facts the rule needs are known"),
    "amount": N_("Amount computed by the rule"),
}


@router.get("/staff/claims/{claim_id:int}/review")
def review_page(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    require(ctx, "reviewer")
    with ctx.platform.read_factory() as s:
        view = workbench(ctx, s, claim_id)
    return render(ctx, "staff/review.html", **view, labels=CHECK_LABELS, error="", reason="")


@router.post("/staff/claims/{claim_id:int}/decide")
def decide(request: Request, claim_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "reviewer")
    form = form_data(request)
    reason = field(form, "reason")
    approve = field(form, "decision") == "approve"
    try:
        if field(form, "decision") not in ("approve", "reject"):
            raise InvalidInput(N_("choose approve or reject"))
        with ctx.platform.session() as s:
            casework.decide(s, plans=ctx.platform.plans, actor=s.get(Account, account.id), claim_id=claim_id,
                          approve=approve, reason=reason, now=ctx.now)
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = workbench(ctx, s, claim_id)
        return render(ctx, "staff/review.html", status_code=exc.status_code, **view, labels=CHECK_LABELS,
                      error=domain_message(ctx, exc), reason=reason)
    return redirect(ctx, "/staff/reviews?done=1")


@router.get("/staff/objections")
def objections(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, "reviewer")
    with ctx.platform.read_factory() as s:
        rows = [{"o": o, "v": case_view(ctx, c)} for o, c in s.execute(
            select(Objection, Case).join(Case, Case.id == Objection.case_id).order_by(
                (Objection.status != "open"), Objection.filed_at.desc()).limit(200))]
    return render(ctx, "staff/objections.html", rows=rows, error=request.query_params.get("error", ""))


@router.post("/staff/objections/{objection_id:int}/resolve")
def resolve(request: Request, objection_id: int) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "reviewer")
    form = form_data(request)
    try:
        if field(form, "outcome") not in ("dismiss", "uphold"):
            raise InvalidInput(N_("choose dismiss or uphold"))
        with ctx.platform.session() as s:
            casework.resolve_objection(s, actor=s.get(Account, account.id), objection_id=objection_id,
                                      upheld=field(form, "outcome") == "uphold", note=field(form, "note"),
                                      now=ctx.now)
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            rows = [{"o": o, "v": case_view(ctx, c)} for o, c in s.execute(
                select(Objection, Case).join(Case, Case.id == Objection.case_id).order_by(
                    (Objection.status != "open"), Objection.filed_at.desc()).limit(200))]
        return render(ctx, "staff/objections.html", status_code=exc.status_code, rows=rows,
                      error=domain_message(ctx, exc))
    return redirect(ctx, "/staff/objections")


# ---------------------------------------------------------------- admin


def admin_view(ctx: Ctx, s: Session) -> dict[str, Any]:
    staff = list(s.scalars(select(Account).where(Account.role != "member").order_by(Account.role, Account.id)))
    due = notices.due_cases(s, now=ctx.now)
    waiting = list(s.scalars(select(Case).where(Case.status == "in_notice").order_by(Case.notice_ends_at)))
    plan_counts = {code: s.scalar(select(Enrollment.id).where(Enrollment.plan_code == code).limit(1)) is not None
                   for code in ctx.platform.plans}
    return {"staff": staff, "due": [case_view(ctx, c) for c in due], "waiting": [case_view(ctx, c) for c in waiting],
            "plans": list(ctx.platform.plans.values()), "plan_counts": plan_counts}


@router.get("/admin")
def admin(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, "admin")
    with ctx.platform.read_factory() as s:
        view = admin_view(ctx, s)
    return render(ctx, "staff/admin.html", **view, run=RUNS.snapshot(), violations=None, error="")


class RunMonitor:
    """The run an admin started from this page, carried out in a background thread so the page can
    show its progress while it works (one at a time per server process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.steps: list[tuple[float, str]] = []
        self.started = 0.0
        self.report: JobReport | None = None
        self.error: str | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, platform: Any, *, now: Any, actor_id: int) -> bool:
        with self.lock:
            if self.running:
                return False
            self.steps, self.report, self.error, self.started = [], None, None, time.monotonic()

            def work() -> None:
                try:
                    self.report = run_jobs(platform.factory, plans=platform.plans, custodian=platform.custodian,
                                           now=now, actor_id=actor_id, progress=self.step)
                except Exception as exc:  # noqa: BLE001 - shown to the admin and logged
                    log.exception("apportionment run failed")
                    self.error = str(exc) or type(exc).__name__
                finally:
                    platform.public_figures.clear()

            self.thread = threading.Thread(target=work, name="apportionment-run", daemon=True)
            self.thread.start()
            return True

    def step(self, message: str) -> None:
        self.steps.append((time.monotonic() - self.started, message))

    def snapshot(self) -> dict[str, Any]:
        return {"running": self.running, "steps": list(self.steps), "report": self.report, "error": self.error,
                "elapsed": time.monotonic() - self.started if self.started else 0.0,
                "started": bool(self.started)}


RUNS = RunMonitor()


@router.post("/admin/run")
def trigger_run(request: Request) -> Response:
    ctx = page_ctx(request)
    account = require(ctx, "admin")
    RUNS.start(ctx.platform, now=ctx.now, actor_id=account.id)  # already running: just show its progress
    return redirect(ctx, "/admin#run-progress")


@router.get("/admin/run/progress")
def run_progress(request: Request) -> Response:
    """The progress panel, polled by HTMX every second until the run is over."""
    ctx = page_ctx(request)
    require(ctx, "admin")
    return render(ctx, "staff/_run_progress.html", run=RUNS.snapshot())


@router.post("/admin/ledger-check")
def ledger_check(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, "admin")
    with ctx.platform.read_factory() as s:
        violations = check_ledger(s)
        view = admin_view(ctx, s)
    return render(ctx, "staff/admin.html", **view, run=RUNS.snapshot(), violations=violations, error="")


@router.post("/admin/clock")
def advance_clock(request: Request) -> Response:
    ctx = page_ctx(request)
    require(ctx, "admin")
    if not ctx.platform.settings.sandbox:
        raise PageNotFound()
    form = form_data(request)
    try:
        days, hours = field(form, "days") or "0", field(form, "hours") or "0"
        target = field(form, "to")
        clock = ctx.platform.clock
        if target:
            try:
                moment = datetime.fromisoformat(target)
            except ValueError:
                raise InvalidInput(N_("give the time as 2016-02-23T11:00")) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=CHINA_TZ)
            clock.set(moment)  # type: ignore[attr-defined]
        else:
            if not (days.isdigit() and hours.isdigit()):
                raise InvalidInput(N_("days and hours must be whole numbers"))
            clock.advance(timedelta(days=int(days), hours=int(hours)))  # type: ignore[attr-defined]
    except DomainError as exc:
        with ctx.platform.read_factory() as s:
            view = admin_view(ctx, s)
        return render(ctx, "staff/admin.html", status_code=exc.status_code, **view, run=RUNS.snapshot(), violations=None,
                      error=domain_message(ctx, exc))
    return redirect(ctx, "/admin")
